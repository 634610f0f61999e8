import Protocols
import Testing

private let salt = "<1896.697170952@dbc.mtview.ca.us>"

private func pop3(auth: Set<AuthMethod> = [.plain], maxErrors: Int = 5, starttls: StartTLSMode = .off,
                  tls: Bool = false) -> POP3SessionSettings {
    POP3SessionSettings(authMethods: auth, maxErrors: maxErrors, salt: Array(salt.utf8), starttls: starttls,
                        tlsActive: tls)
}

@Suite struct POP3ParserTests {
    static let fixtures: [(String, POP3ParseResult)] = [
        ("USER bob\r\n", .command(POP3Command(name: .user, arguments: [bytes("bob")]), consumed: 10)),
        ("user  bob smith \r\n", .command(POP3Command(name: .user, arguments: [bytes("bob smith ")]), consumed: 18)),
        ("PASS se cret\n", .command(POP3Command(name: .pass, arguments: [bytes("se cret")]), consumed: 13)),
        ("APOP bob c4c9334bac560ecc979e58001b3e22fb\r\n",
         .command(POP3Command(name: .apop, arguments: [bytes("bob"), bytes("c4c9334bac560ecc979e58001b3e22fb")]),
                  consumed: 43)),
        ("AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n",
         .command(POP3Command(name: .auth, arguments: [bytes("PLAIN"), bytes("AGJvYgBzZWNyZXQ=")]), consumed: 29)),
        ("capa\r\n", .command(POP3Command(name: .capa), consumed: 6)),
        ("QUIT\r\nNOOP\r\n", .command(POP3Command(name: .quit), consumed: 6)),
        ("USER bob", .needMoreBytes),
        ("\r\n", .invalid(consumed: 2)),
        ("RETR 1\r\n", .invalid(consumed: 8)),
        ("USE bob\r\n", .invalid(consumed: 9)),
        ("USERS bob\r\n", .invalid(consumed: 11)),
        ("USER bob\rx\r\n", .invalid(consumed: 12)),
        ("AUTH a b c d\r\n", .invalid(consumed: 14)),
    ]

    /// Each fixture parses as expected whole, and every proper prefix needs more bytes.
    @Test func fixtures() {
        for (input, expected) in Self.fixtures {
            let b = bytes(input)
            #expect(POP3Parser.parse(b) == expected, "\(input.debugDescription)")
            let boundary: Int
            switch expected {
            case .command(_, let c), .invalid(let c): boundary = c
            case .needMoreBytes: boundary = b.count
            }
            for n in 0..<boundary {
                #expect(POP3Parser.parse(b.prefix(n)) == .needMoreBytes, "\(input.debugDescription) prefix \(n)")
            }
        }
    }
}

@Suite struct POP3SessionTests {
    /// USER/PASS asks the auth service with method plain; QUIT before login answers +OK and closes.
    @Test func userPass() {
        runPOP3Transcript(#"""
        S: +OK POP3 ready
        C: USER bob
        S: +OK
        C: PASS secret word
        AUTH: plain bob secret word
        RESULT: accepted
        """#)
        runPOP3Transcript(#"""
        S: +OK POP3 ready
        C: NOOP
        S: +OK
        C: QUIT
        S: +OK
        CLOSE: quit
        """#)
    }

    /// With APOP enabled the greeting carries the salt and APOP sends user, digest and salt.
    @Test func apop() {
        runPOP3Transcript("""
        S: +OK POP3 ready \(salt)
        C: APOP bob c4c9334bac560ecc979e58001b3e22fb
        AUTH: apop bob c4c9334bac560ecc979e58001b3e22fb
        RESULT: rejected Invalid login
        S: -ERR Invalid login
        C: APOP bob
        S: -ERR invalid command
        """, settings: pop3(auth: [.apop]))
        runPOP3Transcript(#"""
        S: +OK POP3 ready
        C: APOP bob c4c9334bac560ecc979e58001b3e22fb
        S: -ERR invalid command
        """#)
    }

    /// CAPA lists capabilities, the SASL line (PLAIN implies LOGIN), and STLS per starttls.
    @Test func capa() {
        runPOP3Transcript(#"""
        S: +OK POP3 ready
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: USER
        S: UIDL
        S: SASL PLAIN LOGIN
        S: .
        """#)
        runPOP3Transcript(#"""
        S: +OK POP3 ready
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: UIDL
        S: STLS
        S: .
        """#, settings: pop3(starttls: .only))
        runPOP3Transcript("""
        S: +OK POP3 ready \(salt)
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: USER
        S: UIDL
        S: SASL PLAIN LOGIN CRAM-MD5 EXTERNAL
        S: STLS
        S: .
        C: AUTH
        S: +OK methods supported:
        S: PLAIN
        S: LOGIN
        S: CRAM-MD5
        S: EXTERNAL
        S: .
        """, settings: pop3(auth: [.plain, .cramMD5, .external], starttls: .on))
    }

    /// AUTH PLAIN and LOGIN work with and without initial response; CRAM-MD5 only when enabled.
    @Test func sasl() {
        runPOP3Transcript(#"""
        S: +OK POP3 ready
        C: AUTH PLAIN
        S: + 
        C: AGJvYgBzZWNyZXQ=
        AUTH: plain bob secret
        RESULT: rejected No
        S: -ERR No
        C: AUTH LOGIN Ym9i
        S: + UGFzc3dvcmQ6
        C: c2VjcmV0
        AUTH: login bob secret
        RESULT: rejected No
        S: -ERR No
        C: AUTH CRAM-MD5
        S: -ERR invalid command
        C: AUTH PLAIN AGJvYgBzZWNyZXQ=
        AUTH: plain bob secret
        RESULT: accepted
        """#)
        runPOP3Transcript("""
        S: +OK POP3 ready \(salt)
        C: AUTH CRAM-MD5
        S: + \(Base64.encodeString(Array(salt.utf8)))
        C: *
        S: -ERR invalid command
        """, settings: pop3(auth: [.cramMD5]))
    }

    /// PASS without USER, and a USER refused under starttls only, answer -ERR without counting errors.
    @Test func refusals() {
        runPOP3Transcript(#"""
        S: +OK POP3 ready
        C: PASS x
        S: -ERR invalid command
        C: USER bob
        S: -ERR invalid command
        C: STLS
        S: +OK
        TLS
        TLSDONE
        C: USER bob
        S: +OK
        C: USER eve
        S: -ERR invalid command
        C: PASS x
        S: -ERR invalid command
        """#, settings: pop3(maxErrors: 1, starttls: .only))
    }

    /// Unknown commands count toward max_errors; a line over 128 bytes closes the session.
    @Test func limits() {
        runPOP3Transcript(#"""
        S: +OK POP3 ready
        C: RETR 1
        S: -ERR invalid command
        C: LIST
        S: -ERR invalid command
        CLOSE: errors
        """#, settings: pop3(maxErrors: 2))
        runPOP3Transcript("""
        S: +OK POP3 ready
        C~ USER \(String(repeating: "x", count: 130))
        S: -ERR invalid command
        CLOSE: toolong
        """)
    }

    /// Bytes pipelined behind PASS are kept for the backend.
    @Test func pipelinedAfterPass() {
        var session = IMAPTranscript.run(#"""
        S: +OK POP3 ready
        C: USER bob\r\nPASS pw\r\nSTAT
        S: +OK
        AUTH: plain bob pw
        RESULT: accepted
        """#, session: POP3Session(settings: pop3()), byteByByte: false)
        #expect(session.takeBufferedInput() == bytes("STAT\r\n"))
    }
}

@Suite struct POP3BackendLoginTests {
    /// The script sends USER and PASS and relays the final +OK.
    @Test func login() {
        var login = POP3BackendLogin(user: bytes("bob"), password: bytes("pw"), passErrorMessage: false)
        #expect(login.receive(bytes("+OK Dovecot ready.\r\n")) == [.sendToBackend(bytes("USER bob\r\n"))])
        #expect(login.receive(bytes("+OK\r\n")) == [.sendToBackend(bytes("PASS pw\r\n"))])
        #expect(login.receive(bytes("+OK Logged in.\r\n+OK extra\r\n")) ==
                [.loggedIn(clientReply: bytes("+OK Logged in.\r\n"), leftover: bytes("+OK extra\r\n"))])
    }

    /// A refused PASS relays the backend's line only with proxy_pass_error_message.
    @Test func refused() {
        for pass in [true, false] {
            var login = POP3BackendLogin(user: bytes("bob"), password: bytes("pw"), passErrorMessage: pass)
            _ = login.receive(bytes("+OK hi\r\n+OK\r\n"))
            let r = login.receive(bytes("-ERR [AUTH] Authentication failed.\r\n"))
            #expect(r == [.failed(pass ? .authFailedReplied(bytes("-ERR [AUTH] Authentication failed.\r\n"))
                                       : .authFailedNotReplied)])
        }
    }

    /// A login or password with CR, LF or NUL never reaches the backend.
    @Test(arguments: ["bob\r\nDELE 1", "bob\n", "bob\0"])
    func injectionRefused(_ evil: String) {
        var login = POP3BackendLogin(user: bytes(evil), password: bytes("pw"), passErrorMessage: true)
        let r = login.receive(bytes("+OK hi\r\n"))
        #expect(r == [.failed(.protocolViolation("login or password holds CR, LF or NUL"))])
        var login2 = POP3BackendLogin(user: bytes("bob"), password: bytes(evil), passErrorMessage: true)
        #expect(login2.receive(bytes("+OK hi\r\n")) == r)
    }
}
