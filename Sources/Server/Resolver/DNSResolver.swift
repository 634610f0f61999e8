import Glibc
import Synchronization

/// Why a lookup produced no usable answer; all of them are temporary.
public enum DNSLookupError: Error, Sendable, Equatable {
    /// No server answered before the deadline.
    case timedOut
    /// Every server answered SERVFAIL/REFUSED, a truncated or broken message, or refused the datagram.
    case serverFailure
    /// The name cannot be put in a query.
    case invalidName
}

/// nginx's `resolver` for the mail modules: the configured name servers are
/// asked over UDP, round robin, each lookup bounded by `resolver_timeout`;
/// answers are cached for their TTL or `valid=`. Shared by session threads.
public final class DNSResolver: Sendable {
    public let servers: [SocketAddress]
    public let timeoutMillis: Int
    public let validSeconds: Int64?
    public let ipv4: Bool
    public let ipv6: Bool
    public let cache: DNSCache
    private let nextServer = Atomic<Int>(0)

    /// How long one server gets before the next is asked, at most.
    static let attemptMillis = 1000
    /// nginx keeps negative answers briefly too; without `valid=` we use this.
    static let negativeTTLSeconds: Int64 = 30

    public init(servers: [SocketAddress], timeoutMillis: Int, validMillis: Int? = nil, ipv4: Bool = true,
                ipv6: Bool = true, cache: DNSCache = DNSCache()) {
        self.servers = servers
        self.timeoutMillis = max(1, timeoutMillis)
        self.validSeconds = validMillis.map { Int64(max(1, $0 / 1000)) }
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.cache = cache
    }

    /// Records of `type` for `name`, from the cache or the servers.
    public func lookup(_ name: String, type: DNSRecordType, deadline: Deadline) -> Result<DNSLookupOutcome, DNSLookupError> {
        let key = DNSCache.Key(name: name, type: type)
        if let cached = cache.get(key) { return .success(cached) }
        guard !servers.isEmpty else { return .failure(.serverFailure) }
        guard let query = DNSMessage.query(name: name, type: type), let id = DNSMessage.id(of: query) else {
            return .failure(.invalidName)
        }
        var sawFailure = false
        var attempt = 0
        // Round robin across lookups; within one, move on to the next server
        // after a failure or a slice of the deadline, and keep cycling.
        let first = nextServer.add(1, ordering: .relaxed).oldValue
        while !deadline.hasPassed && attempt < 64 {
            let server = servers[(first &+ attempt) % servers.count]
            attempt += 1
            let slice = Deadline.after(millis: Self.attemptMillis)
            let attemptDeadline = min(slice, deadline)
            switch exchange(query, id: id, name: name, type: type, server: server, deadline: attemptDeadline) {
            case .answer(let answer):
                switch answer.rcode {
                case 0 where !answer.truncated:
                    let records = answer.records.map(\.data)
                    if records.isEmpty {
                        cache.put(key, .noSuchData, ttlSeconds: validSeconds ?? Self.negativeTTLSeconds)
                        return .success(.noSuchData)
                    }
                    let ttl = validSeconds ?? Int64(answer.records.map(\.ttl).min() ?? 0)
                    cache.put(key, .records(records), ttlSeconds: ttl)
                    return .success(.records(records))
                case 3:
                    cache.put(key, .noSuchData, ttlSeconds: validSeconds ?? Self.negativeTTLSeconds)
                    return .success(.noSuchData)
                default:
                    sawFailure = true
                }
            case .failed:
                sawFailure = true
                // A refused or broken exchange is immediate; do not spin on it.
                if attempt >= servers.count * 3 { return .failure(.serverFailure) }
            case .timedOut:
                continue
            }
        }
        return .failure(sawFailure ? .serverFailure : .timedOut)
    }

    private enum Exchange {
        case answer(DNSAnswer)
        case failed
        case timedOut
    }

    /// One UDP query to one server. The socket is connected, so the kernel
    /// drops datagrams from other addresses; replies with another ID or
    /// question are ignored and the wait goes on (RFC 5452 §9.1).
    private func exchange(_ query: [UInt8], id: UInt16, name: String, type: DNSRecordType, server: SocketAddress,
                          deadline: Deadline) -> Exchange {
        let socket: Socket
        do {
            socket = Socket(adopting: try sysSocket(server.family, Int32(SOCK_DGRAM.rawValue) | cnetSockFlags, 0))
        } catch {
            return .failed
        }
        defer { socket.close() }
        do {
            try server.withSockAddr { (sa, len) throws(Errno) in try sysConnect(socket.fd, sa, len) }
            _ = try query.withUnsafeBytes { b in Result { () throws(Errno) -> Int in try socket.write(b) } }.get()
        } catch {
            return .failed
        }
        for _ in 0..<16 {
            let result: ReadResult
            do {
                result = try socket.readSome(max: 4096, deadline: deadline)
            } catch {
                // ECONNREFUSED: an ICMP port unreachable came back.
                return .failed
            }
            switch result {
            case .timedOut: return .timedOut
            case .endOfStream: continue
            case .bytes(let bytes):
                switch DNSMessage.parse(bytes, id: id, name: name, type: type) {
                case .success(let answer): return .answer(answer)
                case .failure(.notOurs): continue
                case .failure(.malformed): return .failed
                }
            }
        }
        return .failed
    }
}
