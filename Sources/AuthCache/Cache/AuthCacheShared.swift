import Synchronization

/// What every connection to one cache database shares across threads: the
/// fault episode (so a fault is logged once, not once per thread), the
/// counters, and the queue of finished sessions for the ledger writer.
public final class AuthCacheShared: Sendable {
    public let settings: AuthCacheSettings
    /// Where fault and recovery lines go (the error log).
    let log: @Sendable (CacheLogLevel, String) -> Void
    public let counters = AuthCacheCounters()
    private let faulted = Mutex(false)
    private let ledgerQueue = Mutex<[LedgerEntry]>([])
    /// Hits not yet counted in `cached_logins`, by lookup id: the counter is
    /// for operators, so a hit only notes it here and the background writer
    /// adds them up, keeping every write transaction off the login path.
    private let pendingHits = Mutex<[[UInt8]: PendingHit]>([:])
    /// The queue's bound: past it, new entries are dropped and counted.
    public let ledgerCapacity: Int

    public init(settings: AuthCacheSettings, ledgerCapacity: Int = 10_000,
                log: @escaping @Sendable (CacheLogLevel, String) -> Void) {
        self.settings = settings
        self.ledgerCapacity = ledgerCapacity
        self.log = log
    }

    /// Starts a fault episode; logs only the first fault of an episode.
    func reportFault(_ error: CacheError) {
        counters.faults.add(1, ordering: .relaxed)
        let first = faulted.withLock { f in
            defer { f = true }
            return !f
        }
        if first {
            log(.error, "auth cache \"\(settings.path)\" unavailable, asking auth_http instead: \(error)")
        }
    }

    /// Ends a fault episode, if one is going on.
    func reportWorking() {
        let was = faulted.withLock { f in
            defer { f = false }
            return f
        }
        if was { log(.notice, "auth cache \"\(settings.path)\" works again") }
    }

    public var isFaulted: Bool { faulted.withLock { $0 } }

    /// Queues a finished session for the background writer; never blocks on disk.
    public func enqueue(_ entry: LedgerEntry) {
        let ok = ledgerQueue.withLock { q in
            guard q.count < ledgerCapacity else { return false }
            q.append(entry)
            return true
        }
        if !ok { counters.ledgerDropped.add(1, ordering: .relaxed) }
    }

    var ledgerQueued: Int { ledgerQueue.withLock { $0.count } }

    /// Notes one cache hit for the background writer. Bounded like the
    /// ledger: past capacity distinct entries, further new ones are not counted.
    func noteHit(lookupID: [UInt8], at now: Int64) {
        pendingHits.withLock { hits in
            if var hit = hits[lookupID] {
                hit.count += 1
                hit.lastAt = max(hit.lastAt, now)
                hits[lookupID] = hit
            } else if hits.count < ledgerCapacity {
                hits[lookupID] = PendingHit(count: 1, lastAt: now)
            }
        }
    }

    func takeHits() -> [[UInt8]: PendingHit] {
        pendingHits.withLock { hits in
            defer { hits.removeAll(keepingCapacity: true) }
            return hits
        }
    }

    func takeLedger(max: Int) -> [LedgerEntry] {
        ledgerQueue.withLock { q in
            let n = Swift.min(max, q.count)
            let taken = Array(q.prefix(n))
            q.removeFirst(n)
            return taken
        }
    }

    /// Puts entries back at the front after a failed write.
    func requeue(_ entries: [LedgerEntry]) {
        ledgerQueue.withLock { q in
            let room = Swift.max(ledgerCapacity - q.count, 0)
            q.insert(contentsOf: entries.prefix(room), at: 0)
        }
    }
}

struct PendingHit: Sendable {
    var count: Int64
    var lastAt: Int64
}

public enum CacheLogLevel: Sendable {
    case error, warn, notice, info
}

/// Live counters, for status lines and the benchmark.
public final class AuthCacheCounters: Sendable {
    public let hits = Atomic<UInt64>(0)
    public let misses = Atomic<UInt64>(0)
    public let unavailable = Atomic<UInt64>(0)
    public let stored = Atomic<UInt64>(0)
    public let failuresRecorded = Atomic<UInt64>(0)
    public let throttled = Atomic<UInt64>(0)
    public let faults = Atomic<UInt64>(0)
    public let ledgerWritten = Atomic<UInt64>(0)
    public let ledgerDropped = Atomic<UInt64>(0)
    /// Total time spent in lookups, for the cost of a hit against auth_http.
    public let lookupNanoseconds = Atomic<UInt64>(0)
    public init() {}
}
