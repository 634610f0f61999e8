import AuthCache
import Protocols

/// Runs one SMTP client from greeting to a relayed backend session, as
/// nginx's mail proxy does: `SMTPSession` decides what to say,
/// `ProxySessionCore` does the I/O and the auth call, and `SMTPBackendLogin`
/// greets the backend, passes the client on with XCLIENT, logs in with
/// `proxy_smtp_auth`, or replays MAIL FROM / RCPT TO for `smtp_auth none`.
struct SMTPProxySession {
    var core: ProxySessionCore
    var session: SMTPSession

    /// `core` has logged the connection and done any implicit TLS handshake.
    init(core: ProxySessionCore) {
        self.core = core
        let settings = core.settings
        var smtp = settings.smtp
        smtp.serverName = settings.serverName
        smtp.salt = makeSessionSalt(serverName: settings.serverName, methods: smtp.authMethods)
        smtp.greetingDelay = settings.smtpGreetingDelayMillis > 0
        session = SMTPSession(settings: smtp)
    }

    /// nginx's Client-Host and XCLIENT NAME: no `resolver` is built, so
    /// "[UNAVAILABLE]" ("[TEMPUNAVAIL]" for a unix-socket client).
    /// The whole pre-login life of the session. Returns once the client is
    /// closed or the pair belongs to the relay.
    mutating func run() {
        // nginx: Client-Host and XCLIENT NAME carry the confirmed name, or
        // [UNAVAILABLE] / [TEMPUNAVAIL] (also without a resolver).
        let clientName = core.clientName ?? core.settings.clientName(for: core.peer)
        let clientHostname = Array(clientName.text.utf8)
        guard let initial = greet() else { return }
        let settings = core.settings
        let clientIP = core.clientIP
        let hostname = clientName.text
        guard let (credentials, auth) = core.runUntilLogin(&session, initial: initial, request: { credentials, session in
            Self.authRequest(credentials, session: session, settings: settings, clientIP: clientIP,
                             clientHost: hostname)
        }) else { return }
        var isIPv6 = false
        if case .ipv6 = core.clientAddress { isIPv6 = true }
        let parameters = SMTPBackendLoginParameters(
            serverName: settings.serverName, xclient: settings.xclient, smtpAuth: settings.proxySMTPAuth,
            clientHelo: session.helo, esmtp: session.esmtp, mailFrom: session.mailFrom, rcptTo: session.rcptTo,
            authNone: credentials.method == .none, login: auth.user, password: auth.password,
            clientAddress: clientIP, clientAddressIsIPv6: isIPv6, clientHostname: clientHostname,
            passErrorMessage: settings.passErrorMessage)
        var login = SMTPBackendLogin(parameters, maxLine: max(settings.relay.bufferSize, 1024))
        guard let (backend, reply) = core.connectAndLogIn(auth, login: credentials.user, step: { login.receive($0) }) else { return }
        core.startRelay(backend: backend, clientReply: reply, early: session.takeBufferedInput())
    }

    /// The greeting, after `smtp_greeting_delay` when set: a client that
    /// talks first is refused (the session answers "503 ... pipelining").
    /// nil once the session is closed.
    private mutating func greet() -> [SessionAction]? {
        let delay = core.settings.smtpGreetingDelayMillis
        guard delay > 0 else { return session.start() }
        do {
            switch try core.client.readSome(max: max(session.inputSpace, 1), deadline: .after(millis: delay)) {
            case .timedOut:
                return session.start()
            case .bytes(let bytes):
                core.log.info("client sent data before greeting")
                return session.receive(bytes)
            case .endOfStream:
                core.close(reason: "client closed connection", level: .info)
                return nil
            }
        } catch {
            core.close(reason: "client read failed", level: .info, ioError: error)
            return nil
        }
    }

    /// For `smtp_auth none` the request carries the envelope (Auth-SMTP-Helo,
    /// -From, -To) and no user: a failed AUTH before the mail must not lend
    /// its name or password (the session drops them; credentials are empty).
    static func authRequest(_ credentials: Credentials, session: SMTPSession, settings: ProxySettings,
                            clientIP: String, clientHost: String) -> AuthRequest {
        AuthRequest(
            method: credentials.method.authHTTPName, user: credentials.user, password: credentials.password,
            salt: credentials.salt, protocolName: settings.mailProtocol.rawValue,
            loginAttempt: session.loginAttempt, clientIP: clientIP, clientHost: clientHost,
            smtpHelo: session.helo, smtpFrom: session.mailFrom, smtpTo: session.rcptTo,
            extraHeaders: settings.authHeaders)
    }
}
