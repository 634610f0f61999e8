/// What the Server layer reads from the configuration for one POP3 listener.
public struct POP3SessionSettings: Sendable, Equatable {
    /// `pop3_capabilities`; nginx's default is "TOP USER UIDL".
    public var capabilities: [String]
    /// `pop3_auth`; nginx's default is `plain` (which also enables AUTH
    /// LOGIN). AUTH PLAIN and AUTH LOGIN are accepted whatever this says, as
    /// in nginx; APOP, CRAM-MD5 and EXTERNAL need it.
    public var authMethods: Set<AuthMethod>
    /// nginx reads POP3 commands into a fixed 128-byte buffer.
    public var clientBufferSize: Int
    /// `max_errors`; nginx's default is 5.
    public var maxErrors: Int
    /// `<random.time@server_name>` without CRLF; shown in the greeting when
    /// APOP or CRAM-MD5 is enabled (RFC 1939 §7 timestamp).
    public var salt: [UInt8]
    public var starttls: StartTLSMode
    public var tlsActive: Bool

    public static let defaultCapabilities = ["TOP", "USER", "UIDL"]

    public init(
        capabilities: [String] = POP3SessionSettings.defaultCapabilities,
        authMethods: Set<AuthMethod> = [.plain],
        clientBufferSize: Int = 128,
        maxErrors: Int = 5,
        salt: [UInt8] = [],
        starttls: StartTLSMode = .off,
        tlsActive: Bool = false
    ) {
        self.capabilities = capabilities
        self.authMethods = authMethods
        self.clientBufferSize = max(1, clientBufferSize)
        self.maxErrors = maxErrors
        self.salt = salt
        self.starttls = starttls
        self.tlsActive = tlsActive
    }

    /// nginx makes and shows a salt only when a digest method is enabled.
    var greetsWithSalt: Bool {
        authMethods.contains(.apop) || authMethods.contains(.cramMD5)
    }
}

/// Where a POP3 session is before the backend takes over.
public enum POP3State: String, Sendable, Equatable {
    case greeting
    /// RFC 1939 AUTHORIZATION state, nothing given yet.
    case authorization
    /// USER accepted; PASS expected.
    case userGiven
    case saslExchange
    case authenticating
    case tlsHandshake
    case authenticated
    case closed
}

/// The pre-authentication POP3 state machine, as nginx's
/// ngx_mail_pop3_handler.c runs it.
public struct POP3Session: Sendable {
    public private(set) var settings: POP3SessionSettings
    public private(set) var state: POP3State = .greeting
    /// The login last sent to the auth service (for logs).
    public private(set) var login: [UInt8]?
    public private(set) var loginAttempt = 0
    public private(set) var errors = 0
    public var onTransition: (@Sendable (POP3State, POP3State) -> Void)?

    private var input: [UInt8] = []
    private var user: [UInt8] = []
    private var sasl: SASLExchange?
    private var inputOverflowed = false

    public init(settings: POP3SessionSettings) {
        self.settings = settings
    }

    public var inputSpace: Int { max(0, settings.clientBufferSize - input.count) }

    public mutating func start() -> [SessionAction] {
        guard state == .greeting else { return [] }
        enter(.authorization)
        let greeting = POP3Replies.greeting(salt: settings.greetsWithSalt ? settings.salt : nil)
        return [.send(greeting)] + process()
    }

    public mutating func receive(_ bytes: some Collection<UInt8>) -> [SessionAction] {
        var rest = bytes[...]
        var actions: [SessionAction] = []
        while !rest.isEmpty {
            switch state {
            case .greeting, .authenticating, .authenticated:
                bufferWhileWaiting(rest)
                return actions
            case .authorization, .userGiven, .saslExchange:
                let room = inputSpace
                let chunk = rest.prefix(room)
                input.append(contentsOf: chunk)
                rest = rest.dropFirst(chunk.count)
                actions += process()
                if room == 0 && (state == .authorization || state == .userGiven || state == .saslExchange) { actions += closeForTooLong() }
            case .tlsHandshake, .closed:
                // RFC 2595 §4: nothing pipelined behind STLS is read.
                return actions
            }
        }
        return actions
    }

    public mutating func authFinished(_ result: AuthResult) -> [SessionAction] {
        guard state == .authenticating else { return [] }
        switch result {
        case .accepted:
            enter(.authenticated)
            if inputOverflowed {
                enter(.closed)
                return [.send(POP3Replies.internalServerError), .close(.lineTooLong)]
            }
            return []
        case .rejected(let message):
            // nginx returns to the start: the client sends USER again.
            enter(.authorization)
            let reply = POP3Replies.loginRejected(message: replyText(message))
            if inputOverflowed {
                inputOverflowed = false
                input.removeAll()
                return [.send(reply)] + closeForTooLong()
            }
            return [.send(reply)] + process()
        case .rejectedFinal(let message):
            enter(.closed)
            return [.send(POP3Replies.loginRejected(message: replyText(message))), .close(.authServiceFailed)]
        case .tempFail:
            enter(.closed)
            return [.send(POP3Replies.internalServerError), .close(.authServiceFailed)]
        }
    }

    public mutating func tlsEstablished() -> [SessionAction] {
        guard state == .tlsHandshake else { return [] }
        settings.tlsActive = true
        input.removeAll()
        user = []
        login = nil
        sasl = nil
        enter(.authorization)
        return []
    }

    /// After `.accepted`: bytes the client sent behind its login, for the backend.
    public mutating func takeBufferedInput() -> [UInt8] {
        let rest = input
        input.removeAll()
        return rest
    }

    private mutating func enter(_ next: POP3State) {
        let previous = state
        state = next
        if previous != next { onTransition?(previous, next) }
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
            case .authorization, .userGiven:
                switch POP3Parser.parse(input) {
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
        enter(.authorization)
        if errors >= settings.maxErrors {
            enter(.closed)
            return [.send(POP3Replies.invalidCommand), .close(.tooManyErrors)]
        }
        return [.send(POP3Replies.invalidCommand)]
    }

    private mutating func closeForTooLong() -> [SessionAction] {
        input.removeAll()
        enter(.closed)
        return [.send(POP3Replies.invalidCommand), .close(.lineTooLong)]
    }

    // MARK: - Commands: check, then proceed

    private mutating func handle(_ command: POP3Command) -> [SessionAction] {
        switch (state, command.name) {
        case (_, .quit):
            enter(.closed)
            return [.send(POP3Replies.ok), .close(.clientQuit)]
        case (_, .noop):
            return [.send(POP3Replies.ok)]
        case (.authorization, .capa):
            return [.send(capabilities(offerSTLS: true))]
        case (.userGiven, .capa):
            // nginx answers CAPA after USER without STLS.
            return [.send(capabilities(offerSTLS: false))]
        case (.authorization, .user):
            guard loginAllowed, command.arguments.count == 1 else { return refuse() }
            user = command.arguments[0]
            enter(.userGiven)
            return [.send(POP3Replies.ok)]
        case (.userGiven, .pass):
            guard command.arguments.count == 1 else { return refuse() }
            return askAuthService(Credentials(method: .plain, user: user, password: command.arguments[0]))
        case (.authorization, .apop):
            guard loginAllowed, command.arguments.count == 2, settings.authMethods.contains(.apop) else {
                return refuse()
            }
            return askAuthService(Credentials(method: .apop, user: command.arguments[0],
                                              password: command.arguments[1], salt: settings.salt))
        case (.authorization, .auth):
            guard loginAllowed else { return refuse() }
            if command.arguments.isEmpty { return [.send(POP3Replies.authMethodsList(settings.authMethods))] }
            guard let mechanism = allowedMechanism(command) else { return refuse() }
            let initial = command.arguments.count > 1 ? command.arguments[1] : nil
            let (exchange, step) = SASLExchange.begin(mechanism, initialResponse: initial, salt: settings.salt)
            sasl = exchange
            return saslStep(step)
        case (.authorization, .stls):
            guard !settings.tlsActive, settings.starttls != .off else { return refuse() }
            input.removeAll()
            enter(.tlsHandshake)
            return [.send(POP3Replies.ok), .startTLS]
        case (.authorization, .pass), (.userGiven, .user), (.userGiven, .apop), (.userGiven, .auth),
             (.userGiven, .stls):
            return refuse()
        case (.greeting, _), (.saslExchange, _), (.authenticating, _), (.tlsHandshake, _),
             (.authenticated, _), (.closed, _):
            return []
        }
    }

    /// A well-formed command the handler refuses: "-ERR invalid command",
    /// back to the start (a USER must be sent again), not counted.
    private mutating func refuse() -> [SessionAction] {
        enter(.authorization)
        return [.send(POP3Replies.invalidCommand)]
    }

    private var loginAllowed: Bool {
        settings.tlsActive || settings.starttls != .only
    }

    private func capabilities(offerSTLS: Bool) -> [UInt8] {
        POP3Replies.capabilities(settings.capabilities, authMethods: settings.authMethods,
                                 starttls: settings.starttls, tlsActive: settings.tlsActive, offerSTLS: offerSTLS)
    }

    /// Same rules as IMAP AUTHENTICATE (nginx's shared ngx_mail_auth_parse).
    private func allowedMechanism(_ command: POP3Command) -> SASLMechanism? {
        guard let first = command.arguments.first, let mechanism = SASLMechanism(name: first) else { return nil }
        let extra = command.arguments.count - 1
        switch mechanism {
        case .plain, .login: return extra <= 1 ? mechanism : nil
        case .cramMD5: return extra == 0 && settings.authMethods.contains(.cramMD5) ? mechanism : nil
        case .external: return extra <= 1 && settings.authMethods.contains(.external) ? mechanism : nil
        }
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
            return [.send(POP3Replies.challenge(text))]
        case .credentials(let credentials):
            sasl = nil
            return askAuthService(credentials)
        case .failed:
            sasl = nil
            return refuse()
        }
    }

    private mutating func askAuthService(_ credentials: Credentials) -> [SessionAction] {
        login = credentials.user
        loginAttempt += 1
        enter(.authenticating)
        return [.authenticate(credentials)]
    }

    private func replyText(_ message: String?) -> [UInt8] {
        Array((message ?? "Authentication failed").utf8).filter { $0 != 0x0D && $0 != 0x0A }
    }
}
