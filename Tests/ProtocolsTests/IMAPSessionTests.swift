import Protocols
import Testing

private let salt = "<1896.697170952@postoffice.reston.mci.net>"
private let saltB64 = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"

private func settings(
    auth: Set<AuthMethod> = [.plain], buffer: Int = 4096, maxErrors: Int = 5,
    starttls: StartTLSMode = .off, tls: Bool = false, capabilities: [String] = IMAPSessionSettings.defaultCapabilities
) -> IMAPSessionSettings {
    IMAPSessionSettings(capabilities: capabilities, authMethods: auth, clientBufferSize: buffer, maxErrors: maxErrors,
                        salt: Array(salt.utf8), starttls: starttls, tlsActive: tls)
}

@Suite struct IMAPSessionGreetingTests {
    /// The greeting, NOOP and LOGOUT are nginx's exact bytes; LOGOUT closes.
    @Test func noopAndLogout() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 NOOP
        S: a1 OK completed
        C: a2 logout
        S: * BYE
        S: a2 OK completed
        CLOSE: quit
        """#)
    }

    /// CAPABILITY lists imap_capabilities then AUTH= per imap_auth, in nginx's order.
    @Test(arguments: [
        ([AuthMethod.plain], "* CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=PLAIN"),
        ([.login], "* CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=LOGIN"),
        ([.cramMD5], "* CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=CRAM-MD5"),
        ([.external], "* CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=EXTERNAL"),
        ([.external, .cramMD5, .login, .plain],
         "* CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5 AUTH=EXTERNAL"),
    ])
    func capabilityPerImapAuth(_ methods: [AuthMethod], _ line: String) {
        runIMAPTranscript("""
        S: * OK IMAP4 ready
        C: c1 CAPABILITY
        S: \(line)
        S: c1 OK completed
        """, settings: settings(auth: Set(methods)))
    }

    /// starttls on adds STARTTLS; starttls only replaces AUTH= by STARTTLS LOGINDISABLED; neither once TLS is up.
    @Test func capabilityPerStartTLS() {
        let script = { (line: String) in "S: * OK IMAP4 ready\nC: c CAPABILITY\nS: \(line)\nS: c OK completed\n" }
        runIMAPTranscript(script("* CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=PLAIN STARTTLS"),
                          settings: settings(starttls: .on))
        runIMAPTranscript(script("* CAPABILITY IMAP4 IMAP4rev1 UIDPLUS STARTTLS LOGINDISABLED"),
                          settings: settings(starttls: .only))
        runIMAPTranscript(script("* CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=PLAIN"),
                          settings: settings(starttls: .only, tls: true))
        runIMAPTranscript(script("* CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN"),
                          settings: settings(capabilities: ["IMAP4rev1", "IDLE"]))
    }

    /// An unknown command gets "<tag> BAD invalid command" and the session goes on.
    @Test func unknownCommand() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 SELECT INBOX
        S: a1 BAD invalid command
        C: !! NOOP
        S: * BAD invalid command
        C: a2 NOOP
        S: a2 OK completed
        """#)
    }
}

@Suite struct IMAPSessionLoginTests {
    /// LOGIN with atoms asks the auth service; on acceptance the session emits nothing more.
    @Test func loginAtoms() {
        for byByte in [false, true] {
            let session = IMAPTranscript.run(#"""
            S: * OK IMAP4 ready
            C: a1 LOGIN bob secret
            AUTH: plain bob secret
            RESULT: accepted
            """#, byteByByte: byByte)
            #expect(session.state == .authenticated)
            #expect(session.tag == bytes("a1"))
            #expect(session.login == bytes("bob"))
            #expect(session.loginAttempt == 1)
        }
    }

    /// LOGIN with quoted strings unescapes \" and \\.
    @Test func loginQuoted() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 LOGIN "bob.smith" "pa\"ss\\word two"
        AUTH: plain bob.smith pa"ss\word two
        RESULT: accepted
        """#)
    }

    /// LOGIN with synchronizing literals gets "+ OK" before each literal's data.
    @Test func loginLiterals() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 LOGIN {3}
        S: + OK
        C: bob {6}
        S: + OK
        C: secret
        AUTH: plain bob secret
        RESULT: accepted
        """#)
    }

    /// LOGIN with non-synchronizing literals (RFC 7888) gets no continuation request.
    @Test func loginNonSyncLiterals() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 LOGIN {3+}\r\nbob {6+}\r\nsecret
        AUTH: plain bob secret
        RESULT: accepted
        """#)
    }

    /// LOGIN with a wrong argument count or empty user is refused but not counted toward max_errors.
    @Test func loginBadArguments() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 LOGIN bob
        S: a1 BAD invalid command
        C: a2 LOGIN "" secret
        S: a2 BAD invalid command
        C: a3 LOGIN
        S: a3 BAD invalid command
        C: a4 LOGIN bob ""
        AUTH: plain bob -
        """#, settings: settings(maxErrors: 1))
    }

    /// A refused login (with Auth-Wait) answers NO with the Auth-Status text; the next login succeeds.
    @Test func failedThenSuccess() {
        for byByte in [false, true] {
            let session = IMAPTranscript.run(#"""
            S: * OK IMAP4 ready
            C: a1 LOGIN bob wrong
            AUTH: plain bob wrong
            RESULT: rejected Invalid login or password
            S: a1 NO Invalid login or password
            C: a2 LOGIN bob secret
            AUTH: plain bob secret
            RESULT: accepted
            """#, byteByByte: byByte)
            #expect(session.loginAttempt == 2)
            #expect(session.tag == bytes("a2"))
        }
    }

    /// A refusal without Auth-Wait answers NO and closes, as nginx does.
    @Test func rejectedFinalCloses() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 LOGIN bob wrong
        AUTH: plain bob wrong
        RESULT: final Invalid login
        S: a1 NO Invalid login
        CLOSE: authservice
        """#)
    }

    /// An auth service failure answers nginx's untagged internal error and closes.
    @Test func tempFailCloses() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 LOGIN bob secret
        AUTH: plain bob secret
        RESULT: tempfail
        S: * BAD internal server error
        CLOSE: authservice
        """#)
    }

    /// Commands pipelined behind LOGIN wait for the auth answer and run after a refusal.
    @Test func inputWhileAuthPendingIsBuffered() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 LOGIN bob wrong\r\na2 NOOP
        AUTH: plain bob wrong
        RESULT: rejected Bad
        S: a1 NO Bad
        S: a2 OK completed
        """#)
    }

    /// Bytes pipelined behind an accepted LOGIN are kept for the backend, as nginx relays them.
    @Test func bytesAfterLoginGoToBackend() {
        for byByte in [false, true] {
            var session = IMAPTranscript.run(#"""
            S: * OK IMAP4 ready
            C: a1 NOOP\r\na2 LOGIN bob secret\r\na3 SELECT INBOX
            S: a1 OK completed
            AUTH: plain bob secret
            RESULT: accepted
            """#, byteByByte: byByte)
            #expect(session.takeBufferedInput() == bytes("a3 SELECT INBOX\r\n"))
            #expect(session.receive(bytes("a4 NOOP\r\n")).isEmpty)
            #expect(session.takeBufferedInput() == bytes("a4 NOOP\r\n"))
        }
    }

    /// Several commands in one read are answered in order.
    @Test func pipelining() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 NOOP\r\na2 CAPABILITY\r\na3 BOGUS\r\na4 NOOP
        S: a1 OK completed
        S: * CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=PLAIN
        S: a2 OK completed
        S: a3 BAD invalid command
        S: a4 OK completed
        """#)
    }
}

@Suite struct IMAPSessionAuthenticateTests {
    /// AUTHENTICATE PLAIN without initial response sends "+ " then takes the response.
    @Test func plain() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE PLAIN
        S: + 
        C: AGJvYgBzZWNyZXQ=
        AUTH: plain bob secret
        RESULT: accepted
        """#)
    }

    /// AUTHENTICATE PLAIN with an initial response (RFC 4959) asks at once.
    @Test func plainInitialResponse() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 authenticate plain AGJvYgBzZWNyZXQ=
        AUTH: plain bob secret
        RESULT: rejected Nope
        S: a1 NO Nope
        """#)
    }

    /// AUTHENTICATE LOGIN prompts for user and password with nginx's base64 prompts.
    @Test func login() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE LOGIN
        S: + VXNlcm5hbWU6
        C: Ym9i
        S: + UGFzc3dvcmQ6
        C: c2VjcmV0
        AUTH: login bob secret
        RESULT: accepted
        """#)
    }

    /// AUTHENTICATE LOGIN with the user name as initial response asks only for the password.
    @Test func loginInitialResponse() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE LOGIN Ym9i
        S: + UGFzc3dvcmQ6
        C: c2VjcmV0
        AUTH: login bob secret
        RESULT: accepted
        """#)
    }

    /// AUTHENTICATE CRAM-MD5 challenges with the salt and sends user, digest and salt to the auth service.
    @Test func cramMD5() {
        runIMAPTranscript("""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE CRAM-MD5
        S: + \(saltB64)
        C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw
        AUTH: cram-md5 tim b913a602c7eda7a495b4e6e7334d3890
        RESULT: accepted
        """, settings: settings(auth: [.cramMD5]))
    }

    /// CRAM-MD5 is refused unless imap_auth enables it, and with an initial response.
    @Test func cramMD5Refused() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE CRAM-MD5
        S: a1 BAD invalid command
        """#)
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE CRAM-MD5 Ym9i
        S: a1 BAD invalid command
        """#, settings: settings(auth: [.cramMD5]))
    }

    /// AUTHENTICATE EXTERNAL, enabled, with and without initial response.
    @Test func external() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE EXTERNAL Ym9i
        AUTH: external bob -
        RESULT: rejected No
        S: a1 NO No
        C: a2 AUTHENTICATE EXTERNAL
        S: + VXNlcm5hbWU6
        C: Ym9i
        AUTH: external bob -
        RESULT: accepted
        """#, settings: settings(auth: [.external]))
    }

    /// EXTERNAL is refused unless imap_auth enables it; PLAIN and LOGIN are always accepted (nginx).
    @Test func methodNotEnabled() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE EXTERNAL Ym9i
        S: a1 BAD invalid command
        C: a2 AUTHENTICATE DIGEST-MD5
        S: a2 BAD invalid command
        C: a3 AUTHENTICATE
        S: a3 BAD invalid command
        C: a4 AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=
        AUTH: plain bob secret
        """#, settings: settings(auth: [.cramMD5]))
    }

    /// "*" cancels an exchange with "<tag> BAD invalid command"; bad base64 likewise.
    @Test func cancelAndBadBase64() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE LOGIN
        S: + VXNlcm5hbWU6
        C: *
        S: a1 BAD invalid command
        C: a2 AUTHENTICATE PLAIN
        S: + 
        C: not base64!
        S: a2 BAD invalid command
        C: a3 NOOP
        S: a3 OK completed
        """#)
    }
}

@Suite struct IMAPSessionLimitTests {
    /// The max_errors-th invalid line is answered and the session closed.
    @Test func maxErrors() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 FOO
        S: a1 BAD invalid command
        C: a2 FOO
        S: a2 BAD invalid command
        C: a3 FOO
        S: a3 BAD invalid command
        CLOSE: errors
        """#, settings: settings(maxErrors: 3))
    }

    /// A line longer than imap_client_buffer is answered with its tag and closes the session.
    @Test func overLongLine() {
        runIMAPTranscript("""
        S: * OK IMAP4 ready
        C~ a1 LOGIN \(String(repeating: "x", count: 60))
        S: a1 BAD invalid command
        CLOSE: toolong
        """, settings: settings(buffer: 64))
    }

    /// A command that fits the buffer exactly is accepted.
    @Test func lineAtBufferSize() {
        let user = String(repeating: "u", count: 64 - "a1 LOGIN  p\r\n".utf8.count)
        runIMAPTranscript("""
        S: * OK IMAP4 ready
        C: a1 LOGIN \(user) p
        AUTH: plain \(user) p
        """, settings: settings(buffer: 64))
    }

    /// A literal too large for the buffer gets "+ OK" (as nginx) and then closes as too long.
    @Test func literalLargerThanBuffer() {
        runIMAPTranscript("""
        S: * OK IMAP4 ready
        C: a1 LOGIN {100}
        S: + OK
        C~ \(String(repeating: "x", count: 60))
        S: a1 BAD invalid command
        CLOSE: toolong
        """, settings: settings(buffer: 64))
    }

    /// An invalid line ending in a non-synchronizing literal closes the session (nginx).
    @Test func invalidWithNonSyncLiteralCloses() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 APPEND INBOX {100+}
        S: a1 BAD invalid command
        CLOSE: violation
        """#)
    }

    /// An over-long SASL response line is answered with the AUTHENTICATE tag and closes.
    @Test func overLongSASLLine() {
        runIMAPTranscript("""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE PLAIN
        S: + 
        C~ \(String(repeating: "A", count: 70))
        S: a1 BAD invalid command
        CLOSE: toolong
        """, settings: settings(buffer: 64))
    }
}

@Suite struct IMAPSessionStartTLSTests {
    /// STARTTLS answers OK, asks for TLS, drops pipelined bytes, and forgets nothing it should keep.
    @Test func startTLSDiscardsPipelinedBytes() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 STARTTLS\r\na2 LOGIN bob secret
        S: a1 OK completed
        TLS
        C: a3 LOGIN eve x
        TLSDONE
        C: a4 CAPABILITY
        S: * CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=PLAIN
        S: a4 OK completed
        C: a5 STARTTLS
        S: a5 BAD invalid command
        """#, settings: settings(starttls: .on))
    }

    /// With starttls only, LOGIN and AUTHENTICATE are refused before TLS and accepted after.
    @Test func startTLSOnly() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 LOGIN bob secret
        S: a1 BAD invalid command
        C: a2 AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=
        S: a2 BAD invalid command
        C: a3 STARTTLS
        S: a3 OK completed
        TLS
        TLSDONE
        C: a4 LOGIN bob secret
        AUTH: plain bob secret
        """#, settings: settings(starttls: .only))
    }

    /// STARTTLS is an invalid command when starttls is off.
    @Test func startTLSOff() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 STARTTLS
        S: a1 BAD invalid command
        """#)
    }
}

@Suite struct IMAPSessionCostTests {
    /// A 64 KiB literal fed one byte at a time still yields the whole command.
    @Test func byteByByteIsLinear() {
        var session = IMAPSession(settings: IMAPSessionSettings(clientBufferSize: 65536))
        _ = session.start()
        let line = bytes("a1 LOGIN {65000+}\r\n") + [UInt8](repeating: 0x61, count: 65000)
        // No time bound here (machines are noisy): a quadratic re-parse shows as a slow suite, not a flake.
        for b in line { _ = session.receive([b]) }
        let actions = session.receive(bytes(" p\r\n"))
        guard case .authenticate(let c)? = actions.first else {
            Issue.record("expected authenticate, got \(actions)")
            return
        }
        #expect(c.user.count == 65000)
        #expect(c.password == bytes("p"))
    }
}

@Suite struct IMAPSessionEdgeTests {
    /// Bytes that arrive before the greeting is sent are answered after it, in order.
    @Test func bytesBeforeGreeting() {
        var session = IMAPSession(settings: IMAPSessionSettings())
        #expect(session.receive(bytes("a1 NOOP\r\n")).isEmpty)
        #expect(session.start() == [.send(bytes("* OK IMAP4 ready\r\n")), .send(bytes("a1 OK completed\r\n"))])
    }

    /// An initial response may come as a literal, like any argument.
    @Test func initialResponseAsLiteral() {
        runIMAPTranscript(#"""
        S: * OK IMAP4 ready
        C: a1 AUTHENTICATE PLAIN {16}
        S: + OK
        C: AGJvYgBzZWNyZXQ=
        AUTH: plain bob secret
        """#)
    }

    /// Auth results arriving when no login is pending are ignored.
    @Test func strayAuthResult() {
        var session = IMAPSession(settings: IMAPSessionSettings())
        _ = session.start()
        #expect(session.authFinished(.accepted).isEmpty)
        #expect(session.state == .notAuthenticated)
    }
}
