import AuthCache
import Protocols

/// Runs one POP3 client from greeting to a relayed, logged-in backend
/// session, as nginx's mail proxy does: `POP3Session` decides what to say,
/// `ProxySessionCore` does the I/O and the auth call, and the backend is
/// logged in with USER/PASS (Auth-Pass for APOP and CRAM-MD5 clients, whose
/// digests are no password).
struct POP3ProxySession {
    var core: ProxySessionCore
    var session: POP3Session

    /// `core` has logged the connection and done any implicit TLS handshake.
    init(core: ProxySessionCore) {
        self.core = core
        let settings = core.settings
        var pop3 = settings.pop3
        pop3.salt = makeSessionSalt(serverName: settings.serverName, methods: pop3.authMethods)
        session = POP3Session(settings: pop3)
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
        var login = POP3BackendLogin(user: auth.user, password: auth.password,
                                     passErrorMessage: settings.passErrorMessage,
                                     maxLine: max(settings.relay.bufferSize, 1024))
        guard let (backend, reply) = core.connectAndLogIn(auth, login: credentials.user, step: { login.receive($0) }) else { return }
        core.startRelay(backend: backend, clientReply: reply, early: session.takeBufferedInput())
    }

    static func authRequest(_ credentials: Credentials, session: POP3Session, settings: ProxySettings,
                            clientIP: String) -> AuthRequest {
        AuthRequest(
            method: credentials.method.authHTTPName, user: credentials.user, password: credentials.password,
            salt: credentials.salt, protocolName: settings.mailProtocol.rawValue,
            loginAttempt: session.loginAttempt, clientIP: clientIP, extraHeaders: settings.authHeaders)
    }
}
