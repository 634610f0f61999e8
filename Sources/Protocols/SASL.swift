/// SASL (RFC 4422) server side for the four mechanisms nginx's mail proxy
/// speaks, shared by IMAP (`+ <b64>`), POP3 (`+ <b64>`) and SMTP (`334 <b64>`).
///
/// Each protocol wraps the challenge in its own continuation line; this file
/// only knows the mechanisms. An exchange is a value: begin it with the
/// optional initial response (RFC 4959 SASL-IR, RFC 4954 AUTH, RFC 5034 AUTH),
/// then feed it each client response line until it yields credentials or an
/// error. The auth service, not Postern, checks the secrets.

/// A SASL mechanism nginx accepts.
public enum SASLMechanism: String, Sendable, CaseIterable, Equatable {
    case plain = "PLAIN"
    case login = "LOGIN"
    case cramMD5 = "CRAM-MD5"
    case external = "EXTERNAL"

    /// Matches a mechanism name case-insensitively (RFC 4422 §3.1 names are
    /// upper case, clients send any case); nil for any other name.
    public init?(name: some Collection<UInt8>) {
        let upper = asciiUppercase(name)
        self.init(rawValue: upper)
    }

    /// The method reported to the auth service.
    public var authMethod: AuthMethod {
        switch self {
        case .plain: return .plain
        case .login: return .login
        case .cramMD5: return .cramMD5
        case .external: return .external
        }
    }
}

/// Why a SASL exchange ended without credentials. Every kind gets the
/// protocol's "invalid command" reply in nginx and counts toward max_errors.
public enum SASLError: Error, Sendable, Equatable {
    /// The client answered a challenge with "*" (RFC 4422 §3.5).
    case cancelled
    /// A response was not base64 (RFC 4648).
    case invalidBase64
    /// PLAIN data lacked its two NUL separators (RFC 4616 §2).
    case malformedPlain
    /// The decoded login was empty.
    case emptyUser
    /// The decoded password was empty.
    case emptyPassword
    /// CRAM-MD5 answer was not "user SP 32-hex-digest" (RFC 2195 §2).
    case malformedCRAMResponse
    /// CRAM-MD5 has the server speak first, so an initial response is refused
    /// (nginx treats it as an invalid command).
    case initialResponseNotAllowed
    /// A response arrived after the exchange had already ended (a caller bug).
    case exchangeFinished
}

/// What an exchange asks the protocol to do next.
public enum SASLStep: Sendable, Equatable {
    /// Send this challenge; the bytes are already base64 (possibly empty, as
    /// the PLAIN "+ " prompt is) and need only the protocol's prefix and CRLF.
    case challenge([UInt8])
    /// The exchange is over; hand these to the auth service.
    case credentials(Credentials)
    /// The exchange is over and failed.
    case failed(SASLError)
}

/// One server-side SASL exchange.
public struct SASLExchange: Sendable {
    private enum Waiting: Sendable {
        case plainResponse
        case loginUser
        case loginPassword(user: [UInt8])
        case cramResponse
        case externalResponse
        case finished
    }

    /// nginx prompts with these for AUTH LOGIN and (the user prompt) for
    /// EXTERNAL without an initial response; clients match them literally.
    public static let usernamePrompt: [UInt8] = Array("VXNlcm5hbWU6".utf8)   // "Username:"
    public static let passwordPrompt: [UInt8] = Array("UGFzc3dvcmQ6".utf8)   // "Password:"

    public let mechanism: SASLMechanism
    private let salt: [UInt8]
    private var waiting: Waiting

    private init(mechanism: SASLMechanism, salt: [UInt8], waiting: Waiting) {
        self.mechanism = mechanism
        self.salt = salt
        self.waiting = waiting
    }

    /// Starts an exchange. `initialResponse` is the base64 text after the
    /// mechanism name (nil when absent; "=" means an empty response, RFC 4959
    /// §3). `salt` is the CRAM-MD5 challenge, e.g. `<1896.697170952@host>`
    /// without CRLF; it is ignored by the other mechanisms.
    public static func begin(
        _ mechanism: SASLMechanism, initialResponse: [UInt8]?, salt: [UInt8]
    ) -> (SASLExchange, SASLStep) {
        switch mechanism {
        case .plain:
            var ex = SASLExchange(mechanism: mechanism, salt: salt, waiting: .plainResponse)
            guard let ir = initialResponse else { return (ex, .challenge([])) }
            return (ex, ex.finish(decodePlain(ir)))
        case .login:
            var ex = SASLExchange(mechanism: mechanism, salt: salt, waiting: .loginUser)
            guard let ir = initialResponse else { return (ex, .challenge(usernamePrompt)) }
            let step = ex.respond(ir)
            return (ex, step)
        case .cramMD5:
            var ex = SASLExchange(mechanism: mechanism, salt: salt, waiting: .cramResponse)
            guard initialResponse == nil else { return (ex, ex.finish(.failure(.initialResponseNotAllowed))) }
            return (ex, .challenge(Base64.encode(salt)))
        case .external:
            var ex = SASLExchange(mechanism: mechanism, salt: salt, waiting: .externalResponse)
            guard let ir = initialResponse else { return (ex, .challenge(usernamePrompt)) }
            return (ex, ex.finish(decodeExternal(ir)))
        }
    }

    /// True once credentials or an error were produced.
    public var isFinished: Bool {
        if case .finished = waiting { return true }
        return false
    }

    /// Feeds one client response line (without CRLF).
    public mutating func respond(_ line: [UInt8]) -> SASLStep {
        if line == [UInt8(ascii: "*")], !isFinished {
            return finish(.failure(.cancelled))
        }
        switch waiting {
        case .plainResponse:
            return finish(Self.decodePlain(line))
        case .loginUser:
            guard let user = Base64.decode(line) else { return finish(.failure(.invalidBase64)) }
            guard !user.isEmpty else { return finish(.failure(.emptyUser)) }
            waiting = .loginPassword(user: user)
            return .challenge(Self.passwordPrompt)
        case .loginPassword(let user):
            guard let password = Base64.decode(line) else { return finish(.failure(.invalidBase64)) }
            guard !password.isEmpty else { return finish(.failure(.emptyPassword)) }
            return finish(.success(Credentials(method: .login, user: user, password: password)))
        case .cramResponse:
            return finish(Self.decodeCRAM(line, salt: salt))
        case .externalResponse:
            return finish(Self.decodeExternal(line))
        case .finished:
            return .failed(.exchangeFinished)
        }
    }

    private mutating func finish(_ result: Result<Credentials, SASLError>) -> SASLStep {
        waiting = .finished
        switch result {
        case .success(let c): return .credentials(c)
        case .failure(let e): return .failed(e)
        }
    }

    /// RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd.
    /// As in nginx the authzid is ignored: the auth service sees only the
    /// authentication identity. Unlike nginx, an empty authcid or password
    /// is refused here rather than sent to the auth service.
    static func decodePlain(_ text: [UInt8]) -> Result<Credentials, SASLError> {
        guard let plain = Base64.decode(text) else { return .failure(.invalidBase64) }
        guard let firstNul = plain.firstIndex(of: 0) else { return .failure(.malformedPlain) }
        let rest = plain[(firstNul + 1)...]
        guard let secondNul = rest.firstIndex(of: 0) else { return .failure(.malformedPlain) }
        let user = Array(plain[(firstNul + 1)..<secondNul])
        let password = Array(plain[(secondNul + 1)...])
        guard !user.isEmpty else { return .failure(.emptyUser) }
        guard !password.isEmpty else { return .failure(.emptyPassword) }
        return .success(Credentials(method: .plain, user: user, password: password))
    }

    /// RFC 2195 §2: the response is "user SP digest", digest 32 lower-case
    /// hex. nginx splits at the first space and checks only the length.
    static func decodeCRAM(_ text: [UInt8], salt: [UInt8]) -> Result<Credentials, SASLError> {
        guard let decoded = Base64.decode(text) else { return .failure(.invalidBase64) }
        guard let space = decoded.firstIndex(of: UInt8(ascii: " ")) else { return .failure(.malformedCRAMResponse) }
        let user = Array(decoded[..<space])
        let digest = Array(decoded[(space + 1)...])
        guard digest.count == 32 else { return .failure(.malformedCRAMResponse) }
        guard !user.isEmpty else { return .failure(.emptyUser) }
        return .success(Credentials(method: .cramMD5, user: user, password: digest, salt: salt))
    }

    /// RFC 4422 Appendix A: the response is the authorization identity,
    /// possibly empty ("=" as an initial response, an empty line otherwise).
    static func decodeExternal(_ text: [UInt8]) -> Result<Credentials, SASLError> {
        if text == [UInt8(ascii: "=")] {
            return .success(Credentials(method: .external, user: [], password: []))
        }
        guard let identity = Base64.decode(text) else { return .failure(.invalidBase64) }
        return .success(Credentials(method: .external, user: identity, password: []))
    }
}
