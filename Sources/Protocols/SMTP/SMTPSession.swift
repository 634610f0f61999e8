/// What the Server layer reads from the configuration for one SMTP listener.
public struct SMTPSessionSettings: Sendable, Equatable {
    /// `server_name` (nginx's default is the machine's host name).
    public var serverName: String
    /// `smtp_capabilities`; empty by default in nginx.
    public var capabilities: [String]
    /// `smtp_auth`; nginx's default is `plain login`. `.none` lets a client
    /// send mail without AUTH (the auth service sees MAIL FROM / RCPT TO).
    /// AUTH PLAIN and AUTH LOGIN are accepted whatever this says, as in nginx.
    public var authMethods: Set<AuthMethod>
    /// `smtp_client_buffer`; nginx's default is one page (4k).
    public var clientBufferSize: Int
    public var maxErrors: Int
    /// The CRAM-MD5 challenge, without CRLF.
    public var salt: [UInt8]
    public var starttls: StartTLSMode
    public var tlsActive: Bool
    /// `smtp_greeting_delay` is set: bytes before the greeting are refused.
    public var greetingDelay: Bool

    public init(
        serverName: String = "localhost",
        capabilities: [String] = [],
        authMethods: Set<AuthMethod> = [.plain, .login],
        clientBufferSize: Int = 4096,
        maxErrors: Int = 5,
        salt: [UInt8] = [],
        starttls: StartTLSMode = .off,
        tlsActive: Bool = false,
        greetingDelay: Bool = false
    ) {
        self.serverName = serverName
        self.capabilities = capabilities
        self.authMethods = authMethods
        self.clientBufferSize = max(1, clientBufferSize)
        self.maxErrors = maxErrors
        self.salt = salt
        self.starttls = starttls
        self.tlsActive = tlsActive
        self.greetingDelay = greetingDelay
    }
}

public enum SMTPState: String, Sendable, Equatable {
    case greeting
    case command
    case saslExchange
    case authenticating
    case tlsHandshake
    case authenticated
    case closed
}

/// The pre-authentication SMTP state machine, as nginx's
/// ngx_mail_smtp_handler.c runs it.
public struct SMTPSession: Sendable {
    public private(set) var settings: SMTPSessionSettings
    public private(set) var state: SMTPState = .greeting
    /// The HELO/EHLO argument (Auth-SMTP-Helo, replayed with XCLIENT).
    public private(set) var helo: [UInt8]?
    /// True once the client said EHLO (nginx then greets the backend with EHLO).
    public private(set) var esmtp = false
    /// The MAIL FROM command as typed (`smtp_auth none`; Auth-SMTP-From).
    public private(set) var mailFrom: [UInt8]?
    /// The RCPT TO command as typed (`smtp_auth none`; Auth-SMTP-To).
    public private(set) var rcptTo: [UInt8]?
    public private(set) var login: [UInt8]?
    public private(set) var loginAttempt = 0
    public private(set) var errors = 0
    public var onTransition: (@Sendable (SMTPState, SMTPState) -> Void)?

    private var input: [UInt8] = []
    private var sasl: SASLExchange?
    private var inputOverflowed = false

    public init(settings: SMTPSessionSettings) {
        self.settings = settings
    }

    public var inputSpace: Int { max(0, settings.clientBufferSize - input.count) }

    /// Sends the greeting (after the driver waited `smtp_greeting_delay`).
    public mutating func start() -> [SessionAction] {
        guard state == .greeting else { return [] }
        enter(.command)
        return [.send(SMTPReplies.greeting(serverName: settings.serverName))] + process()
    }

    public mutating func receive(_ bytes: some Collection<UInt8>) -> [SessionAction] {
        var rest = bytes[...]
        var actions: [SessionAction] = []
        while !rest.isEmpty {
            switch state {
            case .greeting:
                if settings.greetingDelay {
                    // A client talking before the delayed greeting is a
                    // spam engine ignoring the protocol: refuse and close.
                    enter(.closed)
                    return actions + [.send(SMTPReplies.invalidPipelining), .close(.protocolViolation("sent before greeting"))]
                }
                bufferWhileWaiting(rest)
                return actions
            case .authenticating, .authenticated:
                bufferWhileWaiting(rest)
                return actions
            case .command, .saslExchange:
                let room = inputSpace
                let chunk = rest.prefix(room)
                input.append(contentsOf: chunk)
                rest = rest.dropFirst(chunk.count)
                actions += process()
                if room == 0 && (state == .command || state == .saslExchange) { actions += closeForTooLong() }
            case .tlsHandshake, .closed:
                // RFC 3207 §4.2: nothing pipelined behind STARTTLS is read.
                return actions
            }
        }
        return actions
    }

    public mutating func authFinished(_ result: AuthResult) -> [SessionAction] {
        authFinished(result, errorCode: nil)
    }

    /// `errorCode` is the Auth-Error-Code header ("550 5.1.1"); without it
    /// nginx answers "535 5.7.0".
    public mutating func authFinished(_ result: AuthResult, errorCode: String?) -> [SessionAction] {
        guard state == .authenticating else { return [] }
        switch result {
        case .accepted:
            enter(.authenticated)
            if inputOverflowed {
                enter(.closed)
                return [.send(SMTPReplies.internalServerError), .close(.lineTooLong)]
            }
            return []
        case .rejected(let message):
            enter(.command)
            let reply = SMTPReplies.loginRejected(code: errorCode, message: replyText(message))
            if inputOverflowed {
                inputOverflowed = false
                input.removeAll()
                return [.send(reply)] + closeForTooLong()
            }
            return [.send(reply)] + process()
        case .rejectedFinal(let message):
            enter(.closed)
            return [.send(SMTPReplies.loginRejected(code: errorCode, message: replyText(message))),
                    .close(.authServiceFailed)]
        case .tempFail:
            enter(.closed)
            return [.send(SMTPReplies.internalServerError), .close(.authServiceFailed)]
        }
    }

    /// RFC 3207 §4.2: after the handshake the client starts over with EHLO
    /// and nothing learned before TLS counts.
    public mutating func tlsEstablished() -> [SessionAction] {
        guard state == .tlsHandshake else { return [] }
        settings.tlsActive = true
        input.removeAll()
        forgetEnvelope()
        login = nil
        sasl = nil
        enter(.command)
        return []
    }

    public mutating func takeBufferedInput() -> [UInt8] {
        let rest = input
        input.removeAll()
        return rest
    }

    private mutating func enter(_ next: SMTPState) {
        let previous = state
        state = next
        if previous != next { onTransition?(previous, next) }
    }

    private mutating func forgetEnvelope() {
        helo = nil
        esmtp = false
        mailFrom = nil
        rcptTo = nil
    }

    private mutating func bufferWhileWaiting(_ bytes: some Collection<UInt8>) {
        let chunk = bytes.prefix(inputSpace)
        input.append(contentsOf: chunk)
        if chunk.count < bytes.count { inputOverflowed = true }
    }

    private mutating func process() -> [SessionAction] {
        var actions: [SessionAction] = []
        while true {
            switch state {
            case .command:
                switch SMTPParser.parse(input) {
                case .needMoreBytes:
                    if input.count >= settings.clientBufferSize { actions += closeForTooLong() }
                    return actions
                case .command(let command, let consumed):
                    input.removeFirst(consumed)
                    actions += handle(command)
                case .invalid(let consumed):
                    input.removeFirst(consumed)
                    actions += invalidLine()
                }
            case .saslExchange:
                guard let line = input.takeLine() else {
                    if input.count >= settings.clientBufferSize { actions += closeForTooLong() }
                    return actions
                }
                actions += saslResponse(line)
            case .greeting, .authenticating, .tlsHandshake, .authenticated, .closed:
                return actions
            }
        }
    }

    /// Only lines the parser rejects count toward max_errors (nginx).
    private mutating func invalidLine() -> [SessionAction] {
        errors += 1
        if errors >= settings.maxErrors {
            enter(.closed)
            return [.send(SMTPReplies.invalidCommand), .close(.tooManyErrors)]
        }
        return [.send(SMTPReplies.invalidCommand)]
    }

    private mutating func closeForTooLong() -> [SessionAction] {
        input.removeAll()
        enter(.closed)
        return [.send(SMTPReplies.invalidCommand), .close(.lineTooLong)]
    }

    // MARK: - Commands: check, then proceed

    private mutating func handle(_ command: SMTPCommand) -> [SessionAction] {
        switch command.name {
        case .helo, .ehlo:
            guard command.arguments.count == 1 else { return [.send(SMTPReplies.invalidArgument)] }
            return proceedHelo(command)
        case .auth:
            guard loginAllowed else { return refuse() }
            guard !command.arguments.isEmpty else { return [.send(SMTPReplies.invalidArgument)] }
            guard let mechanism = allowedMechanism(command) else { return refuse() }
            return proceedAuth(command, mechanism: mechanism)
        case .quit:
            enter(.closed)
            return [.send(SMTPReplies.bye), .close(.clientQuit)]
        case .noop:
            return [.send(SMTPReplies.ok)]
        case .rset:
            mailFrom = nil
            rcptTo = nil
            return [.send(SMTPReplies.ok)]
        case .mail:
            // Without `smtp_auth none` a client must authenticate first.
            guard settings.authMethods.contains(.none) else { return [.send(SMTPReplies.authRequired)] }
            guard mailFrom == nil else { return [.send(SMTPReplies.badSequence)] }
            guard !command.arguments.isEmpty else { return [.send(SMTPReplies.invalidArgument)] }
            mailFrom = command.text
            // A failed AUTH's credentials must not ride along with this mail.
            login = nil
            return [.send(SMTPReplies.ok)]
        case .rcpt:
            guard mailFrom != nil else { return [.send(SMTPReplies.badSequence)] }
            guard !command.arguments.isEmpty else { return [.send(SMTPReplies.invalidArgument)] }
            rcptTo = command.text
            return askAuthService(Credentials(method: .none, user: [], password: []))
        case .starttls:
            guard !settings.tlsActive, settings.starttls != .off else { return refuse() }
            input.removeAll()
            forgetEnvelope()
            enter(.tlsHandshake)
            return [.send(SMTPReplies.startTLS), .startTLS]
        case .vrfy, .expn, .help:
            return refuse()
        }
    }

    private mutating func refuse() -> [SessionAction] {
        enter(.command)
        return [.send(SMTPReplies.invalidCommand)]
    }

    private var loginAllowed: Bool {
        settings.tlsActive || settings.starttls != .only
    }

    private mutating func proceedHelo(_ command: SMTPCommand) -> [SessionAction] {
        helo = command.arguments[0]
        mailFrom = nil
        rcptTo = nil
        if command.name == .helo {
            return [.send(SMTPReplies.helo(serverName: settings.serverName))]
        }
        esmtp = true
        return [.send(SMTPReplies.ehlo(serverName: settings.serverName, capabilities: settings.capabilities,
                                       authMethods: settings.authMethods, starttls: settings.starttls,
                                       tlsActive: settings.tlsActive))]
    }

    private func allowedMechanism(_ command: SMTPCommand) -> SASLMechanism? {
        guard let first = command.arguments.first, let mechanism = SASLMechanism(name: first) else { return nil }
        let extra = command.arguments.count - 1
        switch mechanism {
        case .plain, .login: return extra <= 1 ? mechanism : nil
        case .cramMD5: return extra == 0 && settings.authMethods.contains(.cramMD5) ? mechanism : nil
        case .external: return extra <= 1 && settings.authMethods.contains(.external) ? mechanism : nil
        }
    }

    private mutating func proceedAuth(_ command: SMTPCommand, mechanism: SASLMechanism) -> [SessionAction] {
        let initial = command.arguments.count > 1 ? command.arguments[1] : nil
        let (exchange, step) = SASLExchange.begin(mechanism, initialResponse: initial, salt: settings.salt)
        sasl = exchange
        return saslStep(step)
    }

    private mutating func saslResponse(_ line: [UInt8]) -> [SessionAction] {
        guard var exchange = sasl else { return refuse() }
        let step = exchange.respond(line)
        sasl = exchange
        return saslStep(step)
    }

    private mutating func saslStep(_ step: SASLStep) -> [SessionAction] {
        switch step {
        case .challenge(let text):
            enter(.saslExchange)
            return [.send(SMTPReplies.challenge(text))]
        case .credentials(let credentials):
            sasl = nil
            return askAuthService(credentials)
        case .failed:
            sasl = nil
            return refuse()
        }
    }

    private mutating func askAuthService(_ credentials: Credentials) -> [SessionAction] {
        if credentials.method != .none { login = credentials.user }
        loginAttempt += 1
        enter(.authenticating)
        return [.authenticate(credentials)]
    }

    private func replyText(_ message: String?) -> [UInt8] {
        Array((message ?? "Authentication failed").utf8).filter { $0 != 0x0D && $0 != 0x0A }
    }
}
