import Synchronization

/// What a lookup ended with, as cached.
public enum DNSLookupOutcome: Sendable, Equatable {
    case records([DNSRecordData])
    /// NXDOMAIN, or the name exists without records of this type (RFC 2308 §2.2 "NODATA").
    case noSuchData
}

/// Answers kept for their TTL (or `resolver ... valid=`), shared by every
/// session thread. Bounded: when full, expired entries go first, then the
/// ones closest to expiry. The clock is injected so tests can move time.
public final class DNSCache: Sendable {
    public struct Key: Hashable, Sendable {
        public var name: String
        public var type: DNSRecordType
        public init(name: String, type: DNSRecordType) {
            // RFC 4343: names are case-insensitive; one entry per name.
            self.name = String(decoding: name.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
            self.type = type
        }
    }

    private struct Entry {
        var outcome: DNSLookupOutcome
        var expiresAt: Int64
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let capacity: Int
    private let now: @Sendable () -> Int64

    /// `now` returns nanoseconds on a monotonic clock.
    public init(capacity: Int = 4096, now: @escaping @Sendable () -> Int64 = { monotonicNanoseconds() }) {
        self.capacity = max(1, capacity)
        self.now = now
    }

    public func get(_ key: Key) -> DNSLookupOutcome? {
        let t = now()
        return entries.withLock { table in
            guard let entry = table[key] else { return nil }
            if entry.expiresAt <= t {
                table.removeValue(forKey: key)
                return nil
            }
            return entry.outcome
        }
    }

    /// Keeps `outcome` for `ttlSeconds`; a zero TTL is not kept (RFC 1035 §3.2.1).
    public func put(_ key: Key, _ outcome: DNSLookupOutcome, ttlSeconds: Int64) {
        guard ttlSeconds > 0 else { return }
        let t = now()
        let expiry = t &+ ttlSeconds * 1_000_000_000
        entries.withLock { table in
            if table[key] == nil && table.count >= capacity {
                table = table.filter { $0.value.expiresAt > t }
                if table.count >= capacity, let soonest = table.min(by: { $0.value.expiresAt < $1.value.expiresAt }) {
                    table.removeValue(forKey: soonest.key)
                }
            }
            table[key] = Entry(outcome: outcome, expiresAt: expiry)
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}
