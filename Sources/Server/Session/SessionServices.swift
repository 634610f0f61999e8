import Synchronization

/// The shared, thread-safe parts every session uses: the error log, the
/// relay engine, and live counters for status lines.
public final class SessionServices: Sendable {
    public let log: ErrorLog
    public let relay: RelayEngine
    private let counters: Counters

    private final class Counters: Sendable {
        let connections = Atomic<UInt64>(0)
        let liveSessions = Atomic<Int>(0)
    }

    public convenience init(log: ErrorLog, relay: RelayEngine) {
        self.init(log: log, relay: relay, counters: Counters())
    }

    private init(log: ErrorLog, relay: RelayEngine, counters: Counters) {
        self.log = log
        self.relay = relay
        self.counters = counters
    }

    /// The same services and counters, logging to a server block's own error_log.
    func with(log: ErrorLog) -> SessionServices {
        SessionServices(log: log, relay: relay, counters: counters)
    }

    /// nginx's connection number (`*N` in log lines).
    public func nextConnectionNumber() -> UInt64 {
        counters.connections.add(1, ordering: .relaxed).newValue
    }

    /// Sessions between accept and close, relayed ones included.
    public var live: Int { counters.liveSessions.load(ordering: .relaxed) }
    func sessionStarted() { counters.liveSessions.add(1, ordering: .relaxed) }
    func sessionEnded() { counters.liveSessions.subtract(1, ordering: .relaxed) }
}
