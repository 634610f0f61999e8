import Protocols

/// A parsed, checked and resolved configuration: what the rest of the
/// server reads. Immutable; a reload builds a new one.
public struct PosternConfig: Sendable {
    public var main: MainSettings
    /// The `mail { }` block's own values, nil when the file has none.
    public var mail: MailSettings?
    /// One per `server { }`, with mail-level values and defaults merged in.
    public var servers: [ServerSettings]
    /// One per address a `listen` names (a host name may give several).
    public var listeners: [ListenerSpec]
    /// Directives that were accepted but have no effect yet, in file order,
    /// for the start-up log line nginx operators need to see.
    public var notSupportedYet: [DirectiveUse]
    /// nginx-style warnings (`duplicate value "plain"`), not fatal.
    public var warnings: [ConfigError]
    /// What `-T` prints: every file read, in order, with its text.
    public var dump: String

    /// Directives Postern acts on today. The lead grows this as features
    /// land; everything else parses and is reported in `notSupportedYet`.
    /// Listen parameters appear as `listen ssl` and `listen proxy_protocol`.
    public static let defaultImplementedDirectives: Set<String> = [
        "mail", "server", "listen", "protocol", "timeout", "server_name", "error_log",
        "auth_http", "auth_http_timeout", "auth_http_header",
        "proxy", "proxy_buffer", "proxy_timeout", "proxy_pass_error_message",
        "imap_capabilities", "imap_auth", "imap_client_buffer", "max_errors",
        "pid", "daemon", "user", "events", "worker_connections", "worker_shutdown_timeout",
        "session_pool_threads", "session_pool_queue", "relay_threads", "max_line_length",
    ]
}

/// A directive seen in the configuration, for "accepted but ignored" logs.
public struct DirectiveUse: Sendable, Equatable {
    public var name: String
    public var location: ConfigLocation

    public init(name: String, location: ConfigLocation) {
        self.name = name
        self.location = location
    }

    /// The start-up warning for it, worded like nginx's config warnings.
    public var notSupportedMessage: String {
        ConfigError("the \"\(name)\" directive is accepted but has no effect in this version of postern",
                    at: location).description
    }
}

/// Compiled-in paths, in one place (nginx's NGX_PREFIX, NGX_CONF_PATH,
/// NGX_PID_PATH, NGX_ERROR_LOG_PATH).
public enum PosternDefaults {
    public static let prefix = "/etc/postern/"
    /// Relative to the prefix.
    public static let configFile = "postern.conf"
    public static let pidPath = "/run/postern.pid"
    public static let errorLogPath = "/var/log/postern/error.log"
}

public enum ErrorLogLevel: String, Sendable, CaseIterable, Comparable {
    case emerg, alert, crit, error, warn, notice, info, debug

    /// Lower is more severe, as nginx numbers them.
    public var severity: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: ErrorLogLevel, b: ErrorLogLevel) -> Bool { a.severity < b.severity }
}

public enum ErrorLogTarget: Sendable, Equatable {
    case stderr
    /// An absolute path (relative ones are resolved against the prefix).
    case file(String)
    /// `syslog:server=...,facility=...` parameters, as written after `syslog:`.
    case syslog(String)
    /// nginx's in-memory debug ring buffer, in bytes.
    case memory(Int)
}

public struct ErrorLogSpec: Sendable, Equatable {
    public var target: ErrorLogTarget
    /// Messages at this level and more severe are written (default `error`).
    public var level: ErrorLogLevel

    public init(target: ErrorLogTarget, level: ErrorLogLevel = .error) {
        self.target = target
        self.level = level
    }
}

public enum WorkerProcesses: Sendable, Equatable {
    case auto
    case count(Int)
}

/// Top-level and `events { }` values.
public struct MainSettings: Sendable, Equatable {
    public var errorLogs: [ErrorLogSpec] = [ErrorLogSpec(target: .file(PosternDefaults.errorLogPath), level: .error)]
    public var pidPath: String = PosternDefaults.pidPath
    public var user: String?
    public var group: String?
    public var daemon = true
    public var masterProcess = true
    public var workerProcesses = WorkerProcesses.count(1)
    /// `worker_cpu_affinity`; nil: not bound.
    public var workerCPUAffinity: CPUAffinity?
    public var workerShutdownTimeout: Milliseconds?
    public var workerRlimitNofile: Int?
    public var workerRlimitCore: Int?
    public var workingDirectory: String?
    public var timerResolution: Milliseconds?
    /// `env NAME` and `env NAME=VALUE`, in order.
    public var env: [String] = []
    public var loadModules: [String] = []
    public var workerConnections = 512
    public var eventsMethod: String?
    public var multiAccept = false

    public init() {}
}

/// Process-wide values that live in `mail { }`.
public struct MailSettings: Sendable, Equatable {
    /// Session threads (default 64).
    public var sessionPoolThreads = 64
    /// Connections waiting for a session thread before the temp-fail reply.
    public var sessionPoolQueue = 256
    /// Threads of the relay engine.
    public var relayThreads = 2

    public init(sessionPoolThreads: Int = 64, sessionPoolQueue: Int = 256, relayThreads: Int = 2) {
        self.sessionPoolThreads = sessionPoolThreads
        self.sessionPoolQueue = sessionPoolQueue
        self.relayThreads = relayThreads
    }
}

/// Where the auth service is, from `auth_http [http://]host[:port][/uri]` or
/// `auth_http unix:/path[:/uri]`. Left unresolved: the auth client
/// resolves the host name when it connects.
public struct AuthHTTPURL: Sendable, Equatable {
    public enum Peer: Sendable, Equatable {
        case host(String, port: Int)
        case unix(String)
    }
    public var peer: Peer
    /// The `Host:` header nginx sends: the host as written, `localhost` for UNIX sockets.
    public var hostHeader: String
    /// Path and query, `/` when none was given.
    public var uri: String

    public init(peer: Peer, hostHeader: String, uri: String) {
        self.peer = peer
        self.hostHeader = hostHeader
        self.uri = uri
    }
}

public struct ResolverSettings: Sendable, Equatable {
    public struct Server: Sendable, Equatable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int = 53) {
            self.host = host
            self.port = port
        }
    }
    public var servers: [Server]
    /// `valid=TIME`: overrides the answers' TTL.
    public var valid: Milliseconds?
    public var ipv4 = true
    public var ipv6 = true
    public var statusZone: String?

    public init(servers: [Server], valid: Milliseconds? = nil, ipv4: Bool = true, ipv6: Bool = true,
                statusZone: String? = nil) {
        self.servers = servers
        self.valid = valid
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.statusZone = statusZone
    }
}

public enum StartTLSMode: String, Sendable, Equatable { case off, on, only }

public enum SSLVerifyClient: String, Sendable, Equatable {
    case off, on, optional
    case optionalNoCA = "optional_no_ca"
}

public enum SSLSessionCache: Sendable, Equatable {
    /// Not set: OpenSSL's default behaviour, as nginx leaves it.
    case unset
    case off
    case none
    /// `builtin[:size]` and/or `shared:name:size` (both may be given).
    case caches(builtin: Int?, sharedName: String?, sharedSize: Int?)
}

public enum ProxyProtocolVersion: String, Sendable, Equatable {
    case off, on, v2
}

/// Every ssl_* value of a server, as values; paths are absolute.
public struct SSLSettings: Sendable, Equatable {
    public var certificates: [String] = []
    public var certificateKeys: [String] = []
    public var passwordFile: String?
    public var certificateCompression = false
    public var dhparam: String?
    public var ecdhCurve = "auto"
    public var protocols: [String] = ["TLSv1.2", "TLSv1.3"]
    public var ciphers = "HIGH:!aNULL:!MD5"
    public var preferServerCiphers = false
    public var sessionCache = SSLSessionCache.unset
    public var sessionTickets = true
    public var sessionTicketKeys: [String] = []
    /// Seconds, as nginx's ssl_session_timeout.
    public var sessionTimeoutSeconds: Int64 = 300
    public var verifyClient = SSLVerifyClient.off
    public var verifyDepth = 1
    public var clientCertificate: String?
    public var trustedCertificate: String?
    public var crl: String?
    public var confCommands: [(name: String, value: String)] = []

    public init() {}

    public static func == (a: SSLSettings, b: SSLSettings) -> Bool {
        a.certificates == b.certificates && a.certificateKeys == b.certificateKeys
            && a.passwordFile == b.passwordFile && a.certificateCompression == b.certificateCompression
            && a.dhparam == b.dhparam && a.ecdhCurve == b.ecdhCurve && a.protocols == b.protocols
            && a.ciphers == b.ciphers && a.preferServerCiphers == b.preferServerCiphers
            && a.sessionCache == b.sessionCache && a.sessionTickets == b.sessionTickets
            && a.sessionTicketKeys == b.sessionTicketKeys && a.sessionTimeoutSeconds == b.sessionTimeoutSeconds
            && a.verifyClient == b.verifyClient && a.verifyDepth == b.verifyDepth
            && a.clientCertificate == b.clientCertificate && a.trustedCertificate == b.trustedCertificate
            && a.crl == b.crl && a.confCommands.map { [$0.name, $0.value] } == b.confCommands.map { [$0.name, $0.value] }
    }
}

/// TLS from Postern to the backend (`proxy_ssl on`), with the names and
/// meanings of nginx's stream `proxy_ssl_*` directives.
public struct ProxySSLSettings: Sendable, Equatable {
    public var enabled = false
    /// `proxy_ssl_verify`: check the backend's chain and name.
    public var verify = false
    public var verifyDepth = 1
    public var trustedCertificate: String?
    /// `proxy_ssl_name`: the name checked and sent as SNI; nil means the
    /// upstream's address as the auth service gave it.
    public var name: String?
    /// `proxy_ssl_server_name`: send SNI (nginx's default is off).
    public var sendServerName = false
    public var protocols: [String] = ["TLSv1.2", "TLSv1.3"]
    public var ciphers = "DEFAULT"
    /// A client certificate to present to the backend.
    public var certificate: String?
    public var certificateKey: String?
    public var passwordFile: String?

    public init() {}
}

/// One `server { }` with every value in effect: its own, else the `mail`
/// block's, else nginx's default.
public struct ServerSettings: Sendable, Equatable {
    public var protocolName: MailProtocol
    public var file: String
    public var line: Int
    public var serverName: String
    public var timeout: Milliseconds = 60_000
    public var maxErrors = 5
    public var errorLogs: [ErrorLogSpec]
    /// nil: `resolver` unset or `off`.
    public var resolver: ResolverSettings?
    public var resolverTimeout: Milliseconds = 30_000

    public var authHTTP: AuthHTTPURL
    /// `auth_http_header` pairs, in order.
    public var authHTTPHeaders: [(name: String, value: String)] = []
    public var authHTTPTimeout: Milliseconds = 60_000
    public var authHTTPPassClientCert = false

    public var proxy = false
    public var proxyBuffer = 4096
    public var proxyTimeout: Milliseconds = 24 * 60 * 60_000
    public var proxyPassErrorMessage = false
    public var xclient = true
    public var proxySMTPAuth = false
    public var proxyProtocol = ProxyProtocolVersion.off

    public var setRealIPFrom: [ConfigCIDR] = []

    public var starttls = StartTLSMode.off
    public var ssl = SSLSettings()
    public var proxySSL = ProxySSLSettings()

    /// Capabilities as configured, before nginx adds AUTH=/STARTTLS ones.
    public var imapCapabilities = ["IMAP4", "IMAP4rev1", "UIDPLUS"]
    public var imapAuth: Set<AuthMethod> = [.plain]
    public var imapClientBuffer = 4096
    public var pop3Capabilities = ["TOP", "USER", "UIDL"]
    /// nginx enables SASL LOGIN whenever `plain` is on for POP3.
    public var pop3Auth: Set<AuthMethod> = [.plain, .login]
    public var smtpCapabilities: [String] = []
    public var smtpAuth: Set<AuthMethod> = [.plain, .login]
    public var smtpClientBuffer = 4096
    public var smtpGreetingDelay: Milliseconds = 0

    /// `auth_cache PATH` (absolute) or nil for `off` / unset.
    public var authCachePath: String?
    public var authCacheTTL: Milliseconds = 300_000
    public var authCacheFailTTL: Milliseconds = 60_000
    /// `auth_cache_client_prefix V4BITS [V6BITS]`: how much of the client
    /// address keys the cache and the throttle.
    public var authCacheClientPrefixV4 = 32
    public var authCacheClientPrefixV6 = 64
    /// `auth_throttle_failures` (0: no throttle), `_window`, `_ban` (first ban, doubling).
    public var authThrottleFailures = 10
    public var authThrottleWindow: Milliseconds = 600_000
    public var authThrottleBan: Milliseconds = 60_000
    /// `auth_ledger_retention`: how long finished sessions stay in the ledger.
    public var authLedgerRetention: Milliseconds = 30 * 86_400_000
    public var maxLineLength = 8192

    /// Everything else starts at nginx's (or Postern's) default; for tests
    /// of other layers that need a server without parsing a file.
    public init(protocolName: MailProtocol, serverName: String, authHTTP: AuthHTTPURL,
                errorLogs: [ErrorLogSpec] = MainSettings().errorLogs, file: String = "", line: Int = 0) {
        self.protocolName = protocolName
        self.serverName = serverName
        self.authHTTP = authHTTP
        self.errorLogs = errorLogs
        self.file = file
        self.line = line
    }

    public static func == (a: ServerSettings, b: ServerSettings) -> Bool {
        a.protocolName == b.protocolName && a.file == b.file && a.line == b.line
            && a.serverName == b.serverName && a.timeout == b.timeout && a.maxErrors == b.maxErrors
            && a.errorLogs == b.errorLogs && a.resolver == b.resolver && a.resolverTimeout == b.resolverTimeout
            && a.authHTTP == b.authHTTP
            && a.authHTTPHeaders.map { [$0.name, $0.value] } == b.authHTTPHeaders.map { [$0.name, $0.value] }
            && a.authHTTPTimeout == b.authHTTPTimeout && a.authHTTPPassClientCert == b.authHTTPPassClientCert
            && a.proxy == b.proxy && a.proxyBuffer == b.proxyBuffer && a.proxyTimeout == b.proxyTimeout
            && a.proxyPassErrorMessage == b.proxyPassErrorMessage && a.xclient == b.xclient
            && a.proxySMTPAuth == b.proxySMTPAuth && a.proxyProtocol == b.proxyProtocol
            && a.setRealIPFrom == b.setRealIPFrom && a.starttls == b.starttls && a.ssl == b.ssl && a.proxySSL == b.proxySSL
            && a.imapCapabilities == b.imapCapabilities && a.imapAuth == b.imapAuth
            && a.imapClientBuffer == b.imapClientBuffer && a.pop3Capabilities == b.pop3Capabilities
            && a.pop3Auth == b.pop3Auth && a.smtpCapabilities == b.smtpCapabilities
            && a.smtpAuth == b.smtpAuth && a.smtpClientBuffer == b.smtpClientBuffer
            && a.smtpGreetingDelay == b.smtpGreetingDelay && a.authCachePath == b.authCachePath
            && a.authCacheTTL == b.authCacheTTL && a.authCacheFailTTL == b.authCacheFailTTL
            && a.authCacheClientPrefixV4 == b.authCacheClientPrefixV4
            && a.authCacheClientPrefixV6 == b.authCacheClientPrefixV6
            && a.authThrottleFailures == b.authThrottleFailures && a.authThrottleWindow == b.authThrottleWindow
            && a.authThrottleBan == b.authThrottleBan && a.authLedgerRetention == b.authLedgerRetention
            && a.maxLineLength == b.maxLineLength
    }
}

/// What a listening socket binds to.
public enum ListenAddress: Sendable, Hashable, CustomStringConvertible {
    case inet(ConfigIPAddress, port: Int)
    case unix(String)

    /// nginx's address text: `127.0.0.1:143`, `[::1]:110`, `unix:/path`.
    public var description: String {
        switch self {
        case .inet(let a, let port):
            if case .v6 = a { return "[\(a)]:\(port)" }
            return "\(a):\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }
}

public enum SOKeepalive: Sendable, Equatable {
    /// Not given: leave the system default.
    case unset
    case on
    case off
    /// `so_keepalive=[idle]:[intvl]:[cnt]`; idle and intvl in seconds.
    case tuned(idle: Int64?, interval: Int64?, count: Int?)
}

/// One socket to listen on and the server it belongs to.
public struct ListenerSpec: Sendable, Equatable {
    public var address: ListenAddress
    /// Index into `PosternConfig.servers`.
    public var serverIndex: Int
    public var ssl = false
    public var proxyProtocol = false
    /// nginx's NGX_LISTEN_BACKLOG on Linux.
    public var backlog = 511
    public var rcvbuf: Int?
    public var sndbuf: Int?
    /// `bind` or any parameter that implies it: bind this address on its own.
    public var bind = false
    public var ipv6only = true
    public var soKeepalive = SOKeepalive.unset
    public var multipath = false
    public var location: ConfigLocation

    public init(address: ListenAddress, serverIndex: Int, location: ConfigLocation = .none) {
        self.address = address
        self.serverIndex = serverIndex
        self.location = location
    }
}
