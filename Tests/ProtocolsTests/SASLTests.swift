import Protocols
import Testing

@Suite struct SASLTests {
    static let salt = bytes("<1896.697170952@postoffice.reston.mci.net>")

    func b64(_ s: String) -> [UInt8] { Base64.encode(bytes(s)) }

    /// PLAIN with an initial response yields the authcid and password; the authzid is ignored.
    @Test func plainInitialResponse() {
        let (_, step) = SASLExchange.begin(.plain, initialResponse: b64("admin\0bob\0secret"), salt: [])
        #expect(step == .credentials(Credentials(method: .plain, user: bytes("bob"), password: bytes("secret"))))
    }

    /// PLAIN without an initial response sends an empty challenge, then takes the response.
    @Test func plainChallenge() {
        var (ex, step) = SASLExchange.begin(.plain, initialResponse: nil, salt: [])
        #expect(step == .challenge([]))
        #expect(ex.respond(b64("\0bob\0secret")) ==
                .credentials(Credentials(method: .plain, user: bytes("bob"), password: bytes("secret"))))
        #expect(ex.isFinished)
    }

    /// PLAIN refuses bad base64, missing NULs, an empty user and an empty password.
    @Test(arguments: [
        ("!!!!", SASLError.invalidBase64), ("bob", .malformedPlain), ("bob\0secret", .malformedPlain),
        ("\0\0secret", .emptyUser), ("\0bob\0", .emptyPassword),
    ])
    func plainInvalid(_ text: String, _ error: SASLError) {
        let ir = text == "!!!!" ? bytes(text) : b64(text)
        let (_, step) = SASLExchange.begin(.plain, initialResponse: ir, salt: [])
        #expect(step == .failed(error))
    }

    /// LOGIN prompts "Username:" then "Password:" in base64 (nginx's exact prompts).
    @Test func loginTwoPrompts() {
        var (ex, step) = SASLExchange.begin(.login, initialResponse: nil, salt: [])
        #expect(step == .challenge(bytes("VXNlcm5hbWU6")))
        #expect(ex.respond(b64("bob")) == .challenge(bytes("UGFzc3dvcmQ6")))
        #expect(ex.respond(b64("secret")) ==
                .credentials(Credentials(method: .login, user: bytes("bob"), password: bytes("secret"))))
    }

    /// LOGIN with an initial response (the user name) asks only for the password.
    @Test func loginInitialResponse() {
        var (ex, step) = SASLExchange.begin(.login, initialResponse: b64("bob"), salt: [])
        #expect(step == .challenge(bytes("UGFzc3dvcmQ6")))
        #expect(ex.respond(b64("secret")) ==
                .credentials(Credentials(method: .login, user: bytes("bob"), password: bytes("secret"))))
    }

    /// "*" cancels an exchange at any prompt (RFC 4422 §3.5).
    @Test func cancel() {
        var (ex, _) = SASLExchange.begin(.login, initialResponse: nil, salt: [])
        #expect(ex.respond(bytes("*")) == .failed(.cancelled))
        var (ex2, _) = SASLExchange.begin(.plain, initialResponse: nil, salt: [])
        #expect(ex2.respond(bytes("*")) == .failed(.cancelled))
    }

    /// CRAM-MD5 challenges with the base64 salt and returns user, digest and salt (RFC 2195 example).
    @Test func cramMD5() {
        var (ex, step) = SASLExchange.begin(.cramMD5, initialResponse: nil, salt: Self.salt)
        #expect(step == .challenge(Base64.encode(Self.salt)))
        let answer = Base64.encode(MD5.cramResponse(user: bytes("tim"), password: bytes("tanstaaftanstaaf"),
                                                    challenge: Self.salt))
        #expect(ex.respond(answer) == .credentials(Credentials(
            method: .cramMD5, user: bytes("tim"), password: bytes("b913a602c7eda7a495b4e6e7334d3890"), salt: Self.salt)))
    }

    /// CRAM-MD5 refuses an initial response, a missing space and a digest of the wrong length.
    @Test func cramInvalid() {
        #expect(SASLExchange.begin(.cramMD5, initialResponse: b64("x"), salt: Self.salt).1
                == .failed(.initialResponseNotAllowed))
        var (ex, _) = SASLExchange.begin(.cramMD5, initialResponse: nil, salt: Self.salt)
        #expect(ex.respond(b64("timb913a602c7eda7a495b4e6e7334d3890")) == .failed(.malformedCRAMResponse))
        var (ex2, _) = SASLExchange.begin(.cramMD5, initialResponse: nil, salt: Self.salt)
        #expect(ex2.respond(b64("tim abc")) == .failed(.malformedCRAMResponse))
    }

    /// EXTERNAL takes the authorization identity, "=" meaning empty, with or without initial response.
    @Test func external() {
        #expect(SASLExchange.begin(.external, initialResponse: b64("bob"), salt: []).1
                == .credentials(Credentials(method: .external, user: bytes("bob"), password: [])))
        #expect(SASLExchange.begin(.external, initialResponse: bytes("="), salt: []).1
                == .credentials(Credentials(method: .external, user: [], password: [])))
        var (ex, step) = SASLExchange.begin(.external, initialResponse: nil, salt: [])
        #expect(step == .challenge(bytes("VXNlcm5hbWU6")))
        #expect(ex.respond(b64("bob")) == .credentials(Credentials(method: .external, user: bytes("bob"), password: [])))
    }

    /// Mechanism names match case-insensitively and unknown names are refused.
    @Test func mechanismNames() {
        #expect(SASLMechanism(name: bytes("plain")) == .plain)
        #expect(SASLMechanism(name: bytes("Cram-Md5")) == .cramMD5)
        #expect(SASLMechanism(name: bytes("DIGEST-MD5")) == nil)
        #expect(SASLMechanism.login.authMethod.authHTTPName == "plain")
    }
}
