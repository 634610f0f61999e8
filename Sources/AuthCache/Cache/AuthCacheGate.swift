/// What a session driver asks the cache around one login attempt, in the
/// order it asks: `before` (throttle, then cache), then after the auth
/// service answered, `accepted` or `rejected`; `backendRefused` when a
/// cached login no longer works at the backend.
///
/// Only PLAIN and LOGIN (the client's real password) are ever cached: an
/// APOP or CRAM-MD5 digest is bound to one challenge, and `none` has no
/// secret. Temporary failures and Auth-Wait rounds are never stored.
public struct AuthCacheGate {
    public let store: AuthCacheStore
    public let protocolName: String
    public let clientIP: String
    /// The last accepted login came from the cache, not the auth service.
    public private(set) var fromCache = false

    public init(store: AuthCacheStore, protocolName: String, clientIP: String) {
        self.store = store
        self.protocolName = protocolName
        self.clientIP = clientIP
    }

    public enum Before: Equatable {
        /// Ask the auth service.
        case askAuthService
        /// Banned: after the delay, reject as the auth service would, without asking it.
        case refuse(delayMillis: Int)
        /// Answered from the cache: log in to this backend.
        case hit(CachedBackend)
    }

    public mutating func before(cacheable: Bool, login: [UInt8], password: [UInt8]) -> Before {
        fromCache = false
        let (throttle, found) = store.checkBeforeLogin(protocolName: protocolName, login: login, password: password,
                                                       clientIP: clientIP, cacheable: cacheable)
        if case .refuse(let delay) = throttle {
            // Attempts during a ban count, so persistence earns a longer one.
            store.recordFailure(login: login, clientIP: clientIP)
            return .refuse(delayMillis: delay)
        }
        if case .hit(let backend)? = found {
            fromCache = true
            return .hit(backend)
        }
        return .askAuthService
    }

    /// The auth service accepted: remember it (unless Auth-Cache-TTL is 0)
    /// and note the network as the owner's.
    public func accepted(cacheable: Bool, login: [UInt8], password: [UInt8], backend: CachedBackend,
                         authCacheTTL: Int?) {
        store.recordAccepted(protocolName: protocolName, login: login, password: password, clientIP: clientIP,
                             cacheable: cacheable, backend: backend, ttlSeconds: authCacheTTL.map { Int64($0) })
    }

    /// The auth service refused: count it toward the throttle.
    public func rejected(login: [UInt8]) {
        store.recordFailure(login: login, clientIP: clientIP)
    }

    /// The backend refused a login the cache answered: drop the entry so the
    /// next attempt asks the auth service again.
    public func backendRefused(login: [UInt8]) {
        guard fromCache else { return }
        store.forget(protocolName: protocolName, login: login, clientIP: clientIP)
    }
}
