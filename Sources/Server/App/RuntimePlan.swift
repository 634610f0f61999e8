import Protocols

/// One listening socket and the server block that serves it.
public struct ListenerPlan: Sendable {
    public var address: SocketAddress
    public var backlog: Int32
    public var ipv6Only: Bool
    public var receiveBuffer: Int?
    public var sendBuffer: Int?
    public var keepAlive: KeepAliveSetting
    public var settings: ProxySettings
    /// The server block's own error_log, when it differs from the main one.
    public var log: ErrorLog?

    public init(address: SocketAddress, backlog: Int32 = 511, ipv6Only: Bool = true, receiveBuffer: Int? = nil,
                sendBuffer: Int? = nil, keepAlive: KeepAliveSetting = .off, settings: ProxySettings) {
        self.address = address
        self.backlog = backlog
        self.ipv6Only = ipv6Only
        self.receiveBuffer = receiveBuffer
        self.sendBuffer = sendBuffer
        self.keepAlive = keepAlive
        self.settings = settings
    }

    /// Two plans with the same socket parameters can keep one open socket
    /// across a reload; only the serving settings change.
    var socketKey: String {
        "\(address) backlog=\(backlog) ipv6only=\(ipv6Only) rcvbuf=\(receiveBuffer ?? -1) "
            + "sndbuf=\(sendBuffer ?? -1) keepalive=\(keepAlive)"
    }
}

/// Everything the running process needs from a configuration, derived from
/// it in one place so that start and reload build the same thing.
public struct RuntimePlan: Sendable {
    public var listeners: [ListenerPlan]
    public var logTargets: [LogTarget]
    public var pidPath: String?
    public var sessionThreads: Int
    public var sessionQueue: Int
    public var relayThreads: Int
    /// nginx `worker_shutdown_timeout`: nil waits for sessions without bound.
    public var shutdownTimeoutMillis: Int?
    /// Lines logged at start: directives accepted but not implemented.
    public var startupWarnings: [String]
    /// Server-level error logs, reopened with the main one on USR1.
    public var serverLogs: [ErrorLog]

    public init(listeners: [ListenerPlan], logTargets: [LogTarget], pidPath: String?, sessionThreads: Int = 64,
                sessionQueue: Int = 256, relayThreads: Int = 2, shutdownTimeoutMillis: Int? = nil,
                startupWarnings: [String] = [], serverLogs: [ErrorLog] = []) {
        self.serverLogs = serverLogs
        self.listeners = listeners
        self.logTargets = logTargets
        self.pidPath = pidPath
        self.sessionThreads = sessionThreads
        self.sessionQueue = sessionQueue
        self.relayThreads = relayThreads
        self.shutdownTimeoutMillis = shutdownTimeoutMillis
        self.startupWarnings = startupWarnings
    }
}
