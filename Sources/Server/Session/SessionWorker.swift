import AuthCache

/// What one session-pool thread owns for its whole life and reuses across
/// sessions: the auth_http client, which keeps its connection
/// to the auth service alive between logins. Never shared between threads.
public final class SessionWorker {
    public let auth = AuthHTTPClient()
    /// Buffers and pipes for relaying a pair on this thread right after its
    /// login, before a relay thread takes it (`RelayOptions.lingerMillis`).
    public let relayLocal = RelayLocal()
    /// This thread's connections to auth caches, by settings, opened
    /// on first use. Never shared: SQLite connections stay on one thread.
    private var caches: [AuthCacheSettings: AuthCacheStore] = [:]

    public init() {}

    /// The auth cache for `settings` on this thread; its faults are logged to `log`.
    func authCache(_ settings: AuthCacheSettings, log: ErrorLog) -> AuthCacheStore {
        if let store = caches[settings] { return store }
        let shared = AuthCacheRegistry.process.shared(for: settings) { level, line in
            switch level {
            case .error: log.log(.error, line)
            case .warn: log.log(.warn, line)
            case .notice: log.log(.notice, line)
            case .info: log.log(.info, line)
            }
        }
        let store = AuthCacheStore(shared: shared)
        caches[settings] = store
        return store
    }
}
