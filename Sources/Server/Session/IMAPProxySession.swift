import Glibc
import AuthCache
import Protocols

/// Runs one IMAP client from greeting to a relayed, logged-in backend
/// session on a session-pool thread, as nginx's mail proxy does: the pure
/// `IMAPSession` decides what to say; `ProxySessionCore` does the I/O, asks
/// the auth service and hands both sockets to the relay; this type builds
/// the IMAP auth request and runs the IMAP backend login.
struct IMAPProxySession {
    var core: ProxySessionCore
    var session: IMAPSession

    /// `core` has logged the connection and done any implicit TLS handshake.
    init(core: ProxySessionCore) {
        self.core = core
        let settings = core.settings
        var imap = settings.imap
        imap.salt = makeSessionSalt(serverName: settings.serverName, methods: imap.authMethods)
        session = IMAPSession(settings: imap)
    }

    /// The whole pre-login life of the session. Returns once the client is
    /// closed or the pair belongs to the relay.
    mutating func run() {
        let settings = core.settings
        let clientIP = core.clientIP
        let initial = session.start()
        guard let (credentials, auth) = core.runUntilLogin(&session, initial: initial, request: { credentials, session in
            Self.authRequest(credentials, session: session, settings: settings, clientIP: clientIP)
        }) else { return }
        var login = IMAPBackendLogin(tag: session.tag, user: auth.user, password: auth.password,
                                     passErrorMessage: settings.passErrorMessage,
                                     maxLine: max(settings.relay.bufferSize, 1024))
        guard let (backend, reply) = core.connectAndLogIn(auth, login: credentials.user, step: { login.receive($0) }) else { return }
        core.startRelay(backend: backend, clientReply: reply, early: session.takeBufferedInput())
    }

    static func authRequest(_ credentials: Credentials, session: IMAPSession, settings: ProxySettings,
                            clientIP: String) -> AuthRequest {
        AuthRequest(
            method: credentials.method.authHTTPName, user: credentials.user, password: credentials.password,
            salt: credentials.salt, protocolName: settings.mailProtocol.rawValue,
            loginAttempt: session.loginAttempt, clientIP: clientIP,
            // nginx sends Client-Host for SMTP only.
            clientHost: nil, extraHeaders: settings.authHeaders)
    }
}
