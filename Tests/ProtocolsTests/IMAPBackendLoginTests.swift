import Protocols
import Testing

/// Runs a backend transcript: `B: text` the backend sends text + CRLF (`\r\n`
/// inside is a CRLF too), `P: text` Postern sends text + CRLF to the backend.
/// Returns the actions that are not sends, in order. Fed whole and byte by byte.
private func runBackend(_ script: String, login: IMAPBackendLogin, compareRuns: Bool = true,
                        sourceLocation: SourceLocation = #_sourceLocation) -> [[BackendLoginAction]] {
    var results: [[BackendLoginAction]] = []
    for byByte in [false, true] {
        var machine = login
        var sent: [UInt8] = []
        var others: [BackendLoginAction] = []
        func absorb(_ actions: [BackendLoginAction]) {
            for a in actions {
                if case .sendToBackend(let b) = a { sent += b } else { others.append(a) }
            }
        }
        for line in script.split(separator: "\n") {
            let text = String(line.dropFirst(3)).replacingCRLFEscapes + "\r\n"
            if line.hasPrefix("B: ") {
                if byByte { for b in text.utf8 { absorb(machine.receive([b])) } } else { absorb(machine.receive(Array(text.utf8))) }
            } else if line.hasPrefix("P: ") {
                let want = Array(text.utf8)
                #expect(IMAPTranscript.show(Array(sent.prefix(want.count))) == IMAPTranscript.show(want),
                        sourceLocation: sourceLocation)
                sent.removeFirst(min(want.count, sent.count))
            }
        }
        #expect(sent.isEmpty, "unexpected bytes to backend: \(IMAPTranscript.show(sent))", sourceLocation: sourceLocation)
        results.append(others)
    }
    #expect(!compareRuns || results[0] == results[1], "whole and byte-by-byte runs disagree", sourceLocation: sourceLocation)
    return results
}

@Suite struct IMAPBackendLoginTests {
    /// The script sends nginx's exact bytes: "<tag> LOGIN {n}", the user and "{m}", the password.
    @Test func loginWithLiterals() {
        let r = runBackend(#"""
        B: * OK Dovecot ready.
        P: a1 LOGIN {3}
        B: + OK
        P: bob {6}
        B: + OK
        P: secret
        B: a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in
        """#, login: IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes("secret"),
                                      passErrorMessage: false))
        #expect(r[0] == [.loggedIn(clientReply: bytes("a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"), leftover: [])])
    }

    /// A greeting that lists LITERAL+ (any case) gets the whole LOGIN in one write, with
    /// non-synchronizing literals (RFC 7888): one round trip instead of three.
    @Test func literalPlusSendsLoginAtOnce() {
        let r = runBackend(#"""
        B: * OK [CAPABILITY IMAP4rev1 SASL-IR literal+ AUTH=PLAIN] Dovecot ready.
        P: a1 LOGIN {3+}\r\nbob {6+}\r\nsecret
        B: a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in
        """#, login: IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes("secret"),
                                      passErrorMessage: false))
        #expect(r[0] == [.loggedIn(clientReply: bytes("a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"), leftover: [])])
    }

    /// LITERAL- allows it for literals of at most 4096 bytes; a longer password waits, as nginx does.
    @Test func literalMinusOnlyForShortLiterals() {
        _ = runBackend(#"""
        B: * OK [CAPABILITY IMAP4rev1 LITERAL-] ready
        P: a1 LOGIN {3+}\r\nbob {2+}\r\npw
        B: a1 OK done
        """#, login: IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes("pw"), passErrorMessage: false))
        let long = String(repeating: "p", count: 4097)
        _ = runBackend("""
        B: * OK [CAPABILITY IMAP4rev1 LITERAL-] ready
        P: a1 LOGIN {3}
        B: + OK
        P: bob {4097}
        B: + OK
        P: \(long)
        B: a1 OK done
        """, login: IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes(long), passErrorMessage: false,
                                     maxLine: 8192))
    }

    /// A continuation request the backend should not have sent after non-synchronizing
    /// literals is skipped, not taken for the reply; a greeting without the capability
    /// code, or naming LITERAL+ only in its text, gets nginx's synchronizing literals.
    @Test func literalPlusEdges() {
        _ = runBackend(#"""
        B: * OK [CAPABILITY IMAP4rev1 LITERAL+] ready
        P: a1 LOGIN {3+}\r\nbob {2+}\r\npw
        B: + go ahead
        B: a1 OK done
        """#, login: IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes("pw"), passErrorMessage: false))
        _ = runBackend(#"""
        B: * OK ready for LITERAL+ clients
        P: a1 LOGIN {3}
        B: + OK
        P: bob {2}
        B: + OK
        P: pw
        B: a1 OK done
        """#, login: IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes("pw"), passErrorMessage: false))
        func literals(_ greeting: String) -> NonSynchronizingLiterals {
            IMAPBackendLogin.nonSynchronizingLiterals(inGreeting: bytes(greeting))
        }
        #expect(literals("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready") == .anySize)
        #expect(literals("* ok [capability literal- IMAP4rev1] ready") == .upTo4096)
        #expect(literals("* OK [CAPABILITY LITERAL- LITERAL+]") == .anySize)
        #expect(literals("* OK [CAPABILITY IMAP4rev1 LITERAL+") == .none)
        #expect(literals("* OK [CAPABILITY IMAP4rev1 LITERALS+] x") == .none)
        #expect(literals("* OK [ALERT] LITERAL+") == .none)
    }

    /// An untagged CAPABILITY before the tagged OK is relayed with it; bytes after go along as leftover.
    @Test func untaggedCapabilityAndLeftover() {
        let r = runBackend(#"""
        B: * OK ready
        P: t LOGIN {3}
        B: + go
        P: bob {2}
        B: +
        P: pw
        B: * CAPABILITY IMAP4rev1\r\nt OK done\r\n* 3 EXISTS
        """#, login: IMAPBackendLogin(tag: bytes("t"), user: bytes("bob"), password: bytes("pw"), passErrorMessage: false),
           compareRuns: false)
        #expect(r[0].count == 1)
        guard case .loggedIn(let reply, let leftover)? = r[0].first else { return }
        #expect(reply == bytes("* CAPABILITY IMAP4rev1\r\nt OK done\r\n"))
        // Byte by byte, the leftover may arrive after loggedIn; whole, it is attached.
        #expect(leftover == bytes("* 3 EXISTS\r\n") || leftover.isEmpty)
    }

    /// A refused backend login with proxy_pass_error_message relays the backend's line.
    @Test func refusedWithPassErrorMessage() {
        let r = runBackend(#"""
        B: * OK ready
        P: a1 LOGIN {3}
        B: + OK
        P: bob {1}
        B: + OK
        P: x
        B: a1 NO [AUTHENTICATIONFAILED] Authentication failed.
        """#, login: IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes("x"), passErrorMessage: true))
        #expect(r[0] == [.failed(.authFailedReplied(bytes("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")))])
    }

    /// Without proxy_pass_error_message the client is not answered by the script (driver sends internal error).
    @Test func refusedWithoutPassErrorMessage() {
        let r = runBackend(#"""
        B: * OK ready
        P: a1 LOGIN {3}
        B: + OK
        P: bob {1}
        B: + OK
        P: x
        B: a1 NO no
        """#, login: IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes("x"), passErrorMessage: false))
        #expect(r[0] == [.failed(.authFailedNotReplied)])
    }

    /// A greeting other than "* OK" (PREAUTH, BYE) fails before any credential is sent.
    @Test func badGreeting() {
        let r = runBackend(#"""
        B: * BYE too busy
        """#, login: IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes("x"), passErrorMessage: true))
        #expect(r[0] == [.failed(.authFailedReplied(bytes("* BYE too busy\r\n")))])
    }

    /// A literal refused by the backend (a tagged BAD instead of "+") fails without sending the password.
    @Test func literalRefused() {
        let r = runBackend(#"""
        B: * OK ready
        P: a1 LOGIN {3}
        B: a1 BAD literal too big
        """#, login: IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes("x"), passErrorMessage: false))
        #expect(r[0] == [.failed(.authFailedNotReplied)])
    }

    /// A backend line longer than the limit is a protocol violation.
    @Test func tooLongLine() {
        var login = IMAPBackendLogin(tag: bytes("a1"), user: bytes("bob"), password: bytes("x"),
                                     passErrorMessage: true, maxLine: 32)
        let actions = login.receive(bytes("* OK " + String(repeating: "x", count: 40)))
        #expect(actions == [.failed(.protocolViolation("upstream sent too long response line"))])
    }

    /// Users and passwords with quotes, CRLF and literal syntax reach the backend only inside literals.
    @Test(arguments: ["bo\"b", "bob\r\na2 DELETE INBOX", "{5}", "bob {5+}", "\"\\", "x\r\n"])
    func injectionStaysInsideLiterals(_ evil: String) {
        let user = bytes(evil)
        let password = bytes(evil + "pw")
        var login = IMAPBackendLogin(tag: bytes("a1"), user: user, password: password, passErrorMessage: false)
        var wire: [UInt8] = []
        for case .sendToBackend(let b) in login.receive(bytes("* OK hi\r\n")) { wire += b }
        #expect(wire == bytes("a1 LOGIN {\(user.count)}\r\n"))
        for case .sendToBackend(let b) in login.receive(bytes("+ OK\r\n")) { wire += b }
        for case .sendToBackend(let b) in login.receive(bytes("+ OK\r\n")) { wire += b }
        #expect(wire == bytes("a1 LOGIN {\(user.count)}\r\n") + user + bytes(" {\(password.count)}\r\n") + password + bytes("\r\n"))
        // What an IMAP server parses from these bytes: exactly one LOGIN with our user and password.
        #expect(IMAPParser.parse(wire) == .command(
            IMAPCommand(tag: bytes("a1"), name: .login, arguments: [user, password], synchronizingLiterals: 2),
            consumed: wire.count))
    }
}
