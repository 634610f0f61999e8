import Protocols
import Testing

private func smtp(auth: Set<AuthMethod> = [.plain, .login], starttls: StartTLSMode = .off, tls: Bool = false,
                  caps: [String] = [], delay: Bool = false, maxErrors: Int = 5) -> SMTPSessionSettings {
    SMTPSessionSettings(serverName: "mx.example.org", capabilities: caps, authMethods: auth, maxErrors: maxErrors,
                        salt: Array("<1.2@mx.example.org>".utf8), starttls: starttls, tlsActive: tls,
                        greetingDelay: delay)
}

private func runSMTP(_ script: String, _ settings: SMTPSessionSettings = smtp(),
                     sourceLocation: SourceLocation = #_sourceLocation) {
    for byByte in [false, true] {
        _ = IMAPTranscript.run(script, session: SMTPSession(settings: settings), byteByByte: byByte,
                               sourceLocation: sourceLocation)
    }
}

@Suite struct SMTPParserTests {
    /// Verbs are matched case-insensitively, arguments split at spaces, and the typed text kept.
    @Test func fixtures() {
        #expect(SMTPParser.parse(bytes("ehlo client.example\r\n")) == .command(
            SMTPCommand(name: .ehlo, arguments: [bytes("client.example")], text: bytes("ehlo client.example")),
            consumed: 21))
        #expect(SMTPParser.parse(bytes("MAIL FROM:<a@b> SIZE=10  \r\n")) == .command(
            SMTPCommand(name: .mail, arguments: [bytes("FROM:<a@b>"), bytes("SIZE=10")],
                        text: bytes("MAIL FROM:<a@b> SIZE=10")), consumed: 27))
        #expect(SMTPParser.parse(bytes("StartTLS\n")) == .command(SMTPCommand(name: .starttls, text: bytes("StartTLS")),
                                                                  consumed: 9))
        #expect(SMTPParser.parse(bytes("DATA\r\n")) == .invalid(consumed: 6))
        #expect(SMTPParser.parse(bytes("\r\n")) == .invalid(consumed: 2))
        #expect(SMTPParser.parse(bytes("HELO")) == .needMoreBytes)
        #expect(SMTPParser.parse(bytes("RCPT " + String(repeating: "a ", count: 12) + "\r\n"))
                == .invalid(consumed: 31))
    }

    /// xtext escapes "+", "=", space, controls and non-ASCII as +XX (RFC 3461 §4).
    @Test func xtext() {
        #expect(Xtext.encode(bytes("bob+x=y z\r\n\u{7F}é")) == bytes("bob+2Bx+3Dy+20z+0D+0A+7F+C3+A9"))
        #expect(Xtext.encode(bytes("user@example.org")) == bytes("user@example.org"))
    }
}

@Suite struct SMTPSessionTests {
    /// The greeting, EHLO capabilities with AUTH per smtp_auth, and QUIT are nginx's bytes.
    @Test func ehloAndQuit() {
        runSMTP(#"""
        S: 220 mx.example.org ESMTP ready
        C: EHLO client.example
        S: 250-mx.example.org
        S: 250-SIZE 10485760
        S: 250 AUTH PLAIN LOGIN
        C: HELO client.example
        S: 250 mx.example.org
        C: QUIT
        S: 221 2.0.0 Bye
        CLOSE: quit
        """#, smtp(caps: ["SIZE 10485760"]))
    }

    /// With starttls on STARTTLS is advertised last; with only, AUTH is hidden until TLS.
    @Test func ehloWithStartTLS() {
        runSMTP(#"""
        S: 220 mx.example.org ESMTP ready
        C: EHLO c
        S: 250-mx.example.org
        S: 250-AUTH PLAIN LOGIN
        S: 250 STARTTLS
        """#, smtp(starttls: .on))
        runSMTP(#"""
        S: 220 mx.example.org ESMTP ready
        C: EHLO c
        S: 250-mx.example.org
        S: 250 STARTTLS
        C: AUTH PLAIN AGJvYgBzZWNyZXQ=
        S: 500 5.5.1 Invalid command
        C: STARTTLS\r\nEHLO sneaky
        S: 220 2.0.0 Start TLS
        TLS
        TLSDONE
        C: EHLO c
        S: 250-mx.example.org
        S: 250 AUTH PLAIN LOGIN
        """#, smtp(starttls: .only))
    }

    /// AUTH PLAIN / LOGIN with and without initial response reach the auth service; refusals use 535 5.7.0.
    @Test func auth() {
        runSMTP(#"""
        S: 220 mx.example.org ESMTP ready
        C: EHLO c
        S: 250-mx.example.org
        S: 250 AUTH PLAIN LOGIN
        C: AUTH PLAIN AGJvYgBzZWNyZXQ=
        AUTH: plain bob secret
        RESULT: rejected Invalid login or password
        S: 535 5.7.0 Invalid login or password
        C: AUTH LOGIN
        S: 334 VXNlcm5hbWU6
        C: Ym9i
        S: 334 UGFzc3dvcmQ6
        C: c2VjcmV0
        AUTH: login bob secret
        RESULT: accepted
        """#)
        runSMTP(#"""
        S: 220 mx.example.org ESMTP ready
        C: AUTH PLAIN
        S: 334 
        C: *
        S: 500 5.5.1 Invalid command
        C: AUTH
        S: 501 5.5.4 Invalid argument
        C: AUTH CRAM-MD5
        S: 500 5.5.1 Invalid command
        C: AUTH PLAIN AGJvYgBzZWNyZXQ=
        AUTH: plain bob secret
        RESULT: tempfail
        S: 451 4.3.2 Internal server error
        CLOSE: authservice
        """#)
    }

    /// Without smtp_auth none MAIL needs authentication; with it, MAIL then RCPT asks the auth service.
    @Test func mailWithoutAuth() {
        runSMTP(#"""
        S: 220 mx.example.org ESMTP ready
        C: MAIL FROM:<a@b>
        S: 530 5.7.1 Authentication required
        C: RCPT TO:<c@d>
        S: 503 5.5.1 Bad sequence of commands
        """#)
        var session = IMAPTranscript.run(#"""
        S: 220 mx.example.org ESMTP ready
        C: EHLO c
        S: 250-mx.example.org
        S: 250 AUTH PLAIN LOGIN
        C: MAIL FROM:<a@b> SIZE=10
        S: 250 2.0.0 OK
        C: MAIL FROM:<x@y>
        S: 503 5.5.1 Bad sequence of commands
        C: RCPT TO:<c@d>\r\nDATA
        AUTH: none - -
        RESULT: accepted
        """#, session: SMTPSession(settings: smtp(auth: [.plain, .login, .none])), byteByByte: false)
        #expect(session.helo == bytes("c"))
        #expect(session.esmtp)
        #expect(session.mailFrom == bytes("MAIL FROM:<a@b> SIZE=10"))
        #expect(session.rcptTo == bytes("RCPT TO:<c@d>"))
        #expect(session.takeBufferedInput() == bytes("DATA\r\n"))
    }

    /// A client speaking before a delayed greeting is refused and closed.
    @Test func greetingDelayPipelining() {
        var session = SMTPSession(settings: smtp(delay: true))
        let actions = session.receive(bytes("EHLO spam\r\n"))
        #expect(actions == [.send(SMTPReplies.invalidPipelining), .close(.protocolViolation("sent before greeting"))])
    }

    /// Unknown verbs count toward max_errors; VRFY is refused without counting.
    @Test func errors() {
        runSMTP(#"""
        S: 220 mx.example.org ESMTP ready
        C: VRFY bob
        S: 500 5.5.1 Invalid command
        C: DATA
        S: 500 5.5.1 Invalid command
        C: BDAT 1
        S: 500 5.5.1 Invalid command
        CLOSE: errors
        """#, smtp(maxErrors: 2))
    }

    /// An Auth-Error-Code replaces nginx's default 535 5.7.0.
    @Test func authErrorCode() {
        var session = SMTPSession(settings: smtp(auth: [.none]))
        _ = session.start()
        _ = session.receive(bytes("MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n"))
        #expect(session.authFinished(.rejected(message: "Mailbox unavailable"), errorCode: "550 5.1.1")
                == [.send(bytes("550 5.1.1 Mailbox unavailable\r\n"))])
    }
}

@Suite struct SMTPBackendLoginTests {
    private func drive(_ p: SMTPBackendLoginParameters, _ replies: [String]) -> (sent: [String], last: [BackendLoginAction]) {
        var login = SMTPBackendLogin(p)
        var sent: [String] = []
        var others: [BackendLoginAction] = []
        for r in replies {
            for a in login.receive(bytes(r)) {
                if case .sendToBackend(let b) = a { sent.append(String(decoding: b, as: UTF8.self)) } else { others.append(a) }
            }
        }
        return (sent, others)
    }

    /// With XCLIENT, the backend learns address, xtext login and name, then the client's EHLO; the client gets 235.
    @Test func xclient() {
        let p = SMTPBackendLoginParameters(serverName: "mx.example.org", clientHelo: bytes("client.example"),
                                           esmtp: true, login: bytes("bob+x y"), password: bytes("pw"),
                                           clientAddress: "192.0.2.1", clientHostname: bytes("host.example"))
        let r = drive(p, ["220 backend ESMTP\r\n", "250-backend\r\n250 XCLIENT ADDR NAME LOGIN\r\n",
                          "220 backend ESMTP\r\n", "250-backend\r\n250 8BITMIME\r\n"])
        #expect(r.sent == ["EHLO mx.example.org\r\n",
                           "XCLIENT ADDR=192.0.2.1 LOGIN=bob+2Bx+20y NAME=host.example\r\n",
                           "EHLO client.example\r\n"])
        #expect(r.last == [.loggedIn(clientReply: bytes("235 2.0.0 OK\r\n"), leftover: [])])
    }

    /// Without XCLIENT and with proxy_smtp_auth, Postern logs in with AUTH PLAIN.
    @Test func smtpAuth() {
        let p = SMTPBackendLoginParameters(serverName: "mx", xclient: false, smtpAuth: true, esmtp: false,
                                           login: bytes("bob"), password: bytes("secret"), clientAddress: "::1",
                                           clientAddressIsIPv6: true)
        let r = drive(p, ["220 b\r\n", "250 b\r\n", "235 2.7.0 ok\r\n"])
        #expect(r.sent == ["HELO mx\r\n", "AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n"])
        #expect(r.last == [.loggedIn(clientReply: bytes("235 2.0.0 OK\r\n"), leftover: [])])
    }

    /// For smtp_auth none the envelope is replayed and the RCPT answer relayed; IPv6 gets the IPV6: prefix.
    @Test func authNone() {
        let p = SMTPBackendLoginParameters(serverName: "mx", mailFrom: bytes("MAIL FROM:<a@b>"),
                                           rcptTo: bytes("RCPT TO:<c@d>"), authNone: true, clientAddress: "2001:db8::1",
                                           clientAddressIsIPv6: true)
        let r = drive(p, ["220 b\r\n", "250 b\r\n", "250 ok\r\n", "250 sender ok\r\n", "550 5.1.1 no such user\r\n"])
        #expect(r.sent == ["EHLO mx\r\n", "XCLIENT ADDR=IPV6:2001:db8::1 NAME=[UNAVAILABLE]\r\n",
                           "MAIL FROM:<a@b>\r\n", "RCPT TO:<c@d>\r\n"])
        #expect(r.last == [.loggedIn(clientReply: bytes("550 5.1.1 no such user\r\n"), leftover: [])])
    }

    /// A refused step relays the backend's whole multi-line reply only with proxy_pass_error_message.
    @Test func refused() {
        var p = SMTPBackendLoginParameters(serverName: "mx", xclient: false, smtpAuth: true, login: bytes("bob"),
                                           password: bytes("x"), clientAddress: "192.0.2.1", passErrorMessage: true)
        #expect(drive(p, ["220 b\r\n", "250 b\r\n", "535-5.7.8 bad\r\n535 5.7.8 really\r\n"]).last
                == [.failed(.authFailedReplied(bytes("535-5.7.8 bad\r\n535 5.7.8 really\r\n")))])
        p.passErrorMessage = false
        #expect(drive(p, ["554 go away\r\n"]).last == [.failed(.authFailedNotReplied)])
    }

    /// A HELO or envelope holding CR/LF never reaches the backend.
    @Test func injection() {
        let p = SMTPBackendLoginParameters(serverName: "mx", clientHelo: bytes("x\r\nRSET"), clientAddress: "192.0.2.1")
        let r = drive(p, ["220 b\r\n", "250 b\r\n", "220 b\r\n"])
        #expect(r.sent == ["EHLO mx\r\n", "XCLIENT ADDR=192.0.2.1 NAME=[UNAVAILABLE]\r\n"])
        #expect(r.last == [.failed(.protocolViolation("HELO, MAIL or RCPT holds CR, LF or NUL"))])
    }
}
