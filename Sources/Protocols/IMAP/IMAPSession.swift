/// What the Server layer reads from the configuration for one IMAP listener.
public struct IMAPSessionSettings: Sendable, Equatable {
    /// `imap_capabilities`; nginx's default is "IMAP4 IMAP4rev1 UIDPLUS".
    public var capabilities: [String]
    /// `imap_auth`; nginx's default is `plain`. Only CRAM-MD5 and EXTERNAL
    /// are refused when absent: nginx accepts LOGIN, AUTHENTICATE PLAIN and
    /// AUTHENTICATE LOGIN whatever this says, and uses it only for the
    /// AUTH= tokens of CAPABILITY.
    public var authMethods: Set<AuthMethod>
    /// `imap_client_buffer`; nginx's default is one page (4k on x86-64).
    /// One command, literals included, must fit.
    public var clientBufferSize: Int
    /// `max_errors`; nginx's default is 5.
    public var maxErrors: Int
    /// The CRAM-MD5 challenge `<random.time@server_name>` without CRLF,
    /// made by the driver (nginx's ngx_mail_salt).
    public var salt: [UInt8]
    /// `starttls`; `only` refuses LOGIN and AUTHENTICATE before TLS.
    public var starttls: StartTLSMode
    /// True on an implicit-TLS listener (`listen ... ssl`) or after STARTTLS.
    public var tlsActive: Bool

    public static let defaultCapabilities = ["IMAP4", "IMAP4rev1", "UIDPLUS"]

    public init(
        capabilities: [String] = IMAPSessionSettings.defaultCapabilities,
        authMethods: Set<AuthMethod> = [.plain],
        clientBufferSize: Int = 4096,
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
}

/// What the auth service said about the credentials a session asked about.
public enum AuthResult: Sendable, Equatable {
    /// The driver now connects the backend; the session emits nothing.
    case accepted
    /// Refused with Auth-Wait (the driver has already slept): the client gets
    /// "<tag> NO <message>" and may try again.
    case rejected(message: String?)
    /// Refused without Auth-Wait: nginx sends "<tag> NO <message>" and closes.
    case rejectedFinal(message: String?)
    /// The auth service failed: "* BAD internal server error", then close.
    case tempFail
}

/// Where an IMAP session is before the backend takes over.
public enum IMAPState: String, Sendable, Equatable {
    /// Created; `start()` sends the greeting.
    case greeting
    /// Reading commands (RFC 3501 §3.1 not-authenticated state).
    case notAuthenticated
    /// Inside AUTHENTICATE, reading SASL response lines.
    case saslExchange
    /// Waiting for `authFinished`; input is buffered, not processed.
    case authenticating
    /// STARTTLS answered; waiting for `tlsEstablished`; input is discarded.
    case tlsHandshake
    /// The auth service accepted; the driver logs into the backend.
    case authenticated
    /// Closed; nothing more happens.
    case closed
}

/// The pre-authentication IMAP state machine, as nginx's
/// ngx_mail_imap_handler.c runs it. Bytes and auth results in, actions out.
public struct IMAPSession: Sendable {
    public private(set) var settings: IMAPSessionSettings
    public private(set) var state: IMAPState = .greeting
    /// The tag of the command that logged in, without the space after it;
    /// the backend LOGIN reuses it, as nginx does.
    public private(set) var tag: [UInt8] = []
    /// The login name last sent to the auth service (for logs; never the password).
    public private(set) var login: [UInt8]?
    /// How many times the auth service was asked (nginx's Auth-Login-Attempt).
    public private(set) var loginAttempt = 0
    /// Invalid command lines so far; at `maxErrors` the session closes.
    public private(set) var errors = 0
    /// Called on every state change, for trace logs ("notAuthenticated -> saslExchange").
    public var onTransition: (@Sendable (IMAPState, IMAPState) -> Void)?

    private var input: [UInt8] = []
    private var literalsAcknowledged = 0
    private var sasl: SASLExchange?
    private var inputOverflowed = false
    /// False while the buffer is known to hold no complete line: every
    /// change of parse outcome needs a new LF, so input fed byte by byte is
    /// not re-parsed from its start at every byte.
    private var mayHoldLine = true

    public init(settings: IMAPSessionSettings) {
        self.settings = settings
    }

    /// Bytes the session can still take without overflowing its buffer;
    /// a driver should read at most this many.
    public var inputSpace: Int { max(0, settings.clientBufferSize - input.count) }

    /// Sends the greeting and processes anything that arrived before it.
    public mutating func start() -> [SessionAction] {
        guard state == .greeting else { return [] }
        enter(.notAuthenticated)
        return [.send(IMAPReplies.greeting)] + process()
    }

    /// Feeds client bytes.
    public mutating func receive(_ bytes: some Collection<UInt8>) -> [SessionAction] {
        var rest = bytes[...]
        var actions: [SessionAction] = []
        // Take only what fits, process, repeat: like nginx reading into its
        // fixed client buffer. Each round either takes a byte or closes.
        while !rest.isEmpty {
            switch state {
            case .greeting:
                bufferWhileWaiting(rest)
                return actions
            case .notAuthenticated, .saslExchange:
                let room = inputSpace
                let chunk = rest.prefix(room)
                input.append(contentsOf: chunk)
                if chunk.contains(UInt8(ascii: "\n")) { mayHoldLine = true }
                rest = rest.dropFirst(chunk.count)
                actions += process()
                if room == 0 && (state == .notAuthenticated || state == .saslExchange) {
                    // Unreachable: a full buffer yields a command or "too long".
                    actions += closeForTooLong()
                }
            case .authenticating, .authenticated:
                bufferWhileWaiting(rest)
                return actions
            case .tlsHandshake, .closed:
                // RFC 3501 §6.2.1 / RFC 2595 §3.1: bytes pipelined behind
                // STARTTLS are dropped, never read after the handshake.
                return actions
            }
        }
        return actions
    }

    /// Reports the auth service's answer to the last `.authenticate`.
    public mutating func authFinished(_ result: AuthResult) -> [SessionAction] {
        guard state == .authenticating else { return [] }
        switch result {
        case .accepted:
            enter(.authenticated)
            if inputOverflowed {
                // Client bytes were dropped; relaying the rest would desync the backend.
                enter(.closed)
                return [.send(IMAPReplies.internalServerError), .close(.lineTooLong)]
            }
            return []
        case .rejected(let message):
            enter(.notAuthenticated)
            let reply = IMAPReplies.loginRejected(tag: tag, message: Self.replyText(message))
            if inputOverflowed {
                inputOverflowed = false
                input.removeAll()
                return [.send(reply)] + closeForTooLong()
            }
            return [.send(reply)] + process()
        case .rejectedFinal(let message):
            enter(.closed)
            return [.send(IMAPReplies.loginRejected(tag: tag, message: Self.replyText(message))),
                    .close(.authServiceFailed)]
        case .tempFail:
            enter(.closed)
            return [.send(IMAPReplies.internalServerError), .close(.authServiceFailed)]
        }
    }

    /// Reports that the STARTTLS handshake succeeded. RFC 3501 §6.2.1: the
    /// client starts over (no greeting) and nothing learned before counts.
    public mutating func tlsEstablished() -> [SessionAction] {
        guard state == .tlsHandshake else { return [] }
        settings.tlsActive = true
        input.removeAll()
        mayHoldLine = true
        literalsAcknowledged = 0
        tag = []
        login = nil
        sasl = nil
        enter(.notAuthenticated)
        return []
    }

    /// After `.accepted`: the bytes the client sent behind its login, which
    /// nginx relays to the backend once it is logged in.
    public mutating func takeBufferedInput() -> [UInt8] {
        let rest = input
        input.removeAll()
        return rest
    }

    // MARK: - Transitions

    private mutating func enter(_ next: IMAPState) {
        let previous = state
        state = next
        if previous != next { onTransition?(previous, next) }
    }

    // MARK: - Input

    private mutating func bufferWhileWaiting(_ bytes: some Collection<UInt8>) {
        let chunk = bytes.prefix(inputSpace)
        input.append(contentsOf: chunk)
        mayHoldLine = true
        if chunk.count < bytes.count { inputOverflowed = true }
    }

    /// Runs every complete command in the buffer. Bounded: each round
    /// removes at least one byte from the buffer, or leaves the loop.
    private mutating func process() -> [SessionAction] {
        var actions: [SessionAction] = []
        while true {
            guard mayHoldLine || (state != .notAuthenticated && state != .saslExchange) else {
                if input.count >= settings.clientBufferSize { actions += closeForTooLong() }
                return actions
            }
            switch state {
            case .notAuthenticated:
                switch IMAPParser.parse(input) {
                case .needMoreBytes(let literals):
                    mayHoldLine = false
                    actions += continuations(upTo: literals)
                    if input.count >= settings.clientBufferSize {
                        actions += closeForTooLong()
                    }
                    return actions
                case .command(let command, let consumed):
                    actions += continuations(upTo: command.synchronizingLiterals)
                    input.removeFirst(consumed)
                    literalsAcknowledged = 0
                    actions += handle(command)
                case .invalid(let failure, let consumed):
                    actions += continuations(upTo: failure.synchronizingLiterals)
                    input.removeFirst(consumed)
                    literalsAcknowledged = 0
                    actions += invalidLine(failure)
                }
            case .saslExchange:
                guard let lf = input.firstIndex(of: UInt8(ascii: "\n")) else {
                    mayHoldLine = false
                    if input.count >= settings.clientBufferSize { actions += closeForTooLong() }
                    return actions
                }
                var line = Array(input[..<lf])
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                input.removeFirst(lf + 1)
                actions += saslResponse(line)
            case .greeting, .authenticating, .tlsHandshake, .authenticated, .closed:
                return actions
            }
        }
    }

    /// nginx sends "+ OK" once per synchronizing literal header, as soon as
    /// the header is read (RFC 3501 §7.5 command continuation request).
    private mutating func continuations(upTo announced: Int) -> [SessionAction] {
        guard announced > literalsAcknowledged else { return [] }
        let count = announced - literalsAcknowledged
        literalsAcknowledged = announced
        return Array(repeating: .send(IMAPReplies.literalContinuation), count: count)
    }

    /// nginx counts only lines its parser rejects toward max_errors; a
    /// well-formed command refused by its handler (wrong arguments, unknown
    /// mechanism) is answered the same way but not counted.
    private mutating func invalidLine(_ failure: IMAPParseFailure) -> [SessionAction] {
        errors += 1
        let reply = SessionAction.send(IMAPReplies.invalidCommand(tag: failure.tag))
        if failure.mustClose {
            enter(.closed)
            return [reply, .close(.protocolViolation("invalid command with a non-synchronizing literal"))]
        }
        if errors >= settings.maxErrors {
            enter(.closed)
            return [reply, .close(.tooManyErrors)]
        }
        return [reply]
    }

    /// nginx: "client sent too long command": answer BAD (with the tag if it
    /// was read) and close.
    private mutating func closeForTooLong() -> [SessionAction] {
        let tagForReply = state == .saslExchange ? tag : IMAPParser.tag(in: input)
        input.removeAll()
        enter(.closed)
        return [.send(IMAPReplies.invalidCommand(tag: tagForReply)), .close(.lineTooLong)]
    }

    // MARK: - Commands: check, then proceed

    private mutating func handle(_ command: IMAPCommand) -> [SessionAction] {
        switch command.name {
        case .capability:
            return proceedCapability(command)
        case .noop:
            return [.send(IMAPReplies.completed(tag: command.tag))]
        case .logout:
            enter(.closed)
            return [.send(IMAPReplies.bye + IMAPReplies.completed(tag: command.tag)), .close(.clientQuit)]
        case .starttls:
            guard startTLSAllowed else { return refuse(command) }
            return proceedStartTLS(command)
        case .login:
            guard loginAllowed, command.arguments.count == 2, !command.arguments[0].isEmpty else {
                return refuse(command)
            }
            return proceedLogin(command)
        case .authenticate:
            guard loginAllowed, let mechanism = allowedMechanism(command) else { return refuse(command) }
            return proceedAuthenticate(command, mechanism: mechanism)
        }
    }

    /// A well-formed command the handler will not run: "BAD invalid command".
    private func refuse(_ command: IMAPCommand) -> [SessionAction] {
        [.send(IMAPReplies.invalidCommand(tag: command.tag))]
    }

    /// `starttls only`: no credentials in clear (RFC 2595 §3.2 LOGINDISABLED).
    private var loginAllowed: Bool {
        settings.tlsActive || settings.starttls != .only
    }

    private var startTLSAllowed: Bool {
        !settings.tlsActive && settings.starttls != .off
    }

    /// AUTHENTICATE mechanism [initial-response]: nginx takes PLAIN, LOGIN
    /// and EXTERNAL with at most one more argument, CRAM-MD5 with none, and
    /// refuses CRAM-MD5 and EXTERNAL unless `imap_auth` enables them.
    /// (nginx checks `imap_auth` for EXTERNAL only without an initial
    /// response, so `AUTHENTICATE EXTERNAL <b64>` slips past it there; we
    /// check both forms.)
    private func allowedMechanism(_ command: IMAPCommand) -> SASLMechanism? {
        guard let first = command.arguments.first, let mechanism = SASLMechanism(name: first) else { return nil }
        let extra = command.arguments.count - 1
        switch mechanism {
        case .plain, .login:
            return extra <= 1 ? mechanism : nil
        case .cramMD5:
            return extra == 0 && settings.authMethods.contains(.cramMD5) ? mechanism : nil
        case .external:
            return extra <= 1 && settings.authMethods.contains(.external) ? mechanism : nil
        }
    }

    private func proceedCapability(_ command: IMAPCommand) -> [SessionAction] {
        let line = IMAPReplies.capability(settings.capabilities, authMethods: settings.authMethods,
                                          starttls: settings.starttls, tlsActive: settings.tlsActive)
        return [.send(line + IMAPReplies.completed(tag: command.tag))]
    }

    private mutating func proceedStartTLS(_ command: IMAPCommand) -> [SessionAction] {
        input.removeAll()
        enter(.tlsHandshake)
        return [.send(IMAPReplies.completed(tag: command.tag)), .startTLS]
    }

    private mutating func proceedLogin(_ command: IMAPCommand) -> [SessionAction] {
        askAuthService(Credentials(method: .plain, user: command.arguments[0], password: command.arguments[1]),
                       tag: command.tag)
    }

    private mutating func proceedAuthenticate(_ command: IMAPCommand, mechanism: SASLMechanism) -> [SessionAction] {
        let initial = command.arguments.count > 1 ? command.arguments[1] : nil
        let (exchange, step) = SASLExchange.begin(mechanism, initialResponse: initial, salt: settings.salt)
        tag = command.tag
        sasl = exchange
        return saslStep(step)
    }

    private mutating func saslResponse(_ line: [UInt8]) -> [SessionAction] {
        guard var exchange = sasl else {
            enter(.notAuthenticated)
            return [.send(IMAPReplies.invalidCommand(tag: tag))]
        }
        let step = exchange.respond(line)
        sasl = exchange
        return saslStep(step)
    }

    private mutating func saslStep(_ step: SASLStep) -> [SessionAction] {
        switch step {
        case .challenge(let text):
            enter(.saslExchange)
            return [.send(IMAPReplies.challenge(text))]
        case .credentials(let credentials):
            sasl = nil
            return askAuthService(credentials, tag: tag)
        case .failed:
            // nginx answers a bad SASL response "BAD invalid command"; for
            // AUTH LOGIN's user name it forgets the tag, we keep it.
            sasl = nil
            enter(.notAuthenticated)
            return [.send(IMAPReplies.invalidCommand(tag: tag))]
        }
    }

    private mutating func askAuthService(_ credentials: Credentials, tag: [UInt8]) -> [SessionAction] {
        self.tag = tag
        login = credentials.user
        loginAttempt += 1
        enter(.authenticating)
        return [.authenticate(credentials)]
    }

    /// The Auth-Status text, without any CR or LF that would end the line early.
    private static func replyText(_ message: String?) -> [UInt8] {
        let text = Array((message ?? "Authentication failed").utf8)
        return text.filter { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
    }
}
