import Synchronization

/// The shared, thread-safe parts every session uses: the error log, the
/// relay engine, and live counters for status lines.
public final class SessionServices: Sendable {
    public let log: ErrorLog
    public let relay: RelayEngine
    private let connections = Atomic<UInt64>(0)
    private let liveSessions = Atomic<Int>(0)

    public init(log: ErrorLog, relay: RelayEngine) {
        self.log = log
        self.relay = relay
    }

    /// nginx's connection number (`*N` in log lines).
    public func nextConnectionNumber() -> UInt64 {
        connections.add(1, ordering: .relaxed).newValue
    }

    /// Sessions between accept and close, relayed ones included.
    public var live: Int { liveSessions.load(ordering: .relaxed) }
    func sessionStarted() { liveSessions.add(1, ordering: .relaxed) }
    func sessionEnded() { liveSessions.subtract(1, ordering: .relaxed) }
}
