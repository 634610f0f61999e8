/// A server block's cache configuration (`auth_cache` and friends),
/// resolved by the config planner. Server blocks with equal settings share
/// one background writer; each worker thread has one connection per settings.
public struct AuthCacheSettings: Sendable, Hashable {
    public var path: String
    /// `auth_cache_ttl`; `Auth-Cache-TTL` from the auth service overrides it.
    public var ttlSeconds: Int64
    public var throttle: ThrottlePolicy
    public var clientPrefix: ClientPrefix
    /// `auth_ledger_retention`: finished sessions older than this are purged.
    public var ledgerRetentionSeconds: Int64
    /// After a fault, how long to answer `.unavailable` before trying again.
    public var retryAfterFaultSeconds: Int64
    public var busyTimeoutMillis: Int32

    public init(path: String, ttlSeconds: Int64 = 300, throttle: ThrottlePolicy = ThrottlePolicy(),
                clientPrefix: ClientPrefix = ClientPrefix(), ledgerRetentionSeconds: Int64 = 30 * 86_400,
                retryAfterFaultSeconds: Int64 = 10, busyTimeoutMillis: Int32 = 200) {
        self.path = path
        self.ttlSeconds = ttlSeconds
        self.throttle = throttle
        self.clientPrefix = clientPrefix
        self.ledgerRetentionSeconds = ledgerRetentionSeconds
        self.retryAfterFaultSeconds = retryAfterFaultSeconds
        self.busyTimeoutMillis = busyTimeoutMillis
    }

    /// The key file beside the database.
    public var keyPath: String { path + ".key" }
}

/// Where the backend login comes from on a cache hit: what the auth
/// service answered when the login was stored.
public struct CachedBackend: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// Auth-User; nil: the client's login.
    public var user: [UInt8]?
    /// Auth-Pass; nil: the client's password.
    public var password: [UInt8]?

    public init(host: String, port: Int, user: [UInt8]?, password: [UInt8]?) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
    }
}

public enum CacheLookup: Sendable, Equatable {
    case hit(CachedBackend)
    case miss
    /// The cache is faulted: ask the auth service.
    case unavailable
}

public enum ThrottleDecision: Sendable, Equatable {
    case allow
    /// Banned: refuse after `delayMillis` without asking the auth service.
    case refuse(delayMillis: Int)
}

/// One finished session for the `sessions` table.
public struct LedgerEntry: Sendable, Equatable {
    public var startedAt: Double
    public var endedAt: Double
    public var clientAddress: String
    public var clientPort: Int?
    public var protocolName: String
    public var login: String?
    public var fromCache: Bool
    public var backend: String?
    public var tlsVersion: String?
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    /// proxied, rejected, throttled, failed
    public var outcome: String
    public var reason: String?

    public init(startedAt: Double, endedAt: Double, clientAddress: String, clientPort: Int?, protocolName: String,
                login: String?, fromCache: Bool, backend: String?, tlsVersion: String?, bytesIn: UInt64,
                bytesOut: UInt64, outcome: String, reason: String?) {
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.clientAddress = clientAddress
        self.clientPort = clientPort
        self.protocolName = protocolName
        self.login = login
        self.fromCache = fromCache
        self.backend = backend
        self.tlsVersion = tlsVersion
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.outcome = outcome
        self.reason = reason
    }
}
