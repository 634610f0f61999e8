import Foundation
import Testing

/// A login with a space and a "+": XCLIENT must carry it xtext-encoded and Postfix
/// must record it exactly. The users file holds the space as %20.
let oddLogin = "john doe+tag"

/// Real SMTP clients (smtplib, swaks) through the built Postern to a real Postfix that
/// accepts XCLIENT from loopback, routed by the example auth service.
@Suite("SMTP through Postern", .enabled(if: PosternBinary.canProxy, "postern cannot proxy yet"))
struct SMTPProxyTests {
    final class Stack {
        let env: TestEnvironment
        let postern: PosternProcess

        init(authArguments: String = "--external-by-name", serverExtra: String = "smtp_auth plain login cram-md5 external;") async throws {
            env = try await TestEnvironment(authArguments: authArguments, postfix: true,
                                      extraUsers: ["john%20doe+tag odd-pass 127.0.0.1 *"])
            do {
                postern = try await PosternProcess(environment: env, protocol: "smtp", serverExtra: serverExtra)
            } catch {
                env.stop()
                throw error
            }
        }

        var port: String { String(postern.port) }

        func stop() {
            postern.stop()
            env.stop()
        }

        func client(_ arguments: [String]) async throws -> ProcessOutput {
            try await ProcessRunner.client("smtp_client.py", arguments)
        }

        /// A message with every header Postfix would otherwise add, so what arrives
        /// is Postfix's trace headers followed by exactly these bytes.
        func writeMessage(token: String, from: String = "bob@mail.test") throws -> (path: String, bytes: Data) {
            let lines = [
                "Date: Fri, 27 Nov 2026 10:00:00 +0000",
                "Message-ID: <\(token)@client.test>",
                "From: \(from)",
                "To: alice@mail.test",
                "Subject: through postern \(token)",
                "",
                "Body line one, token \(token).",
                "A line with trailing spaces   ",
                "\tand a tab; the end.",
            ]
            let text = lines.map { $0 + "\r\n" }.joined()
            let url = env.directory.appendingPathComponent("message-\(token).eml")
            try text.write(to: url, atomically: true, encoding: .utf8)
            return (url.path, Data(text.utf8))
        }

        /// The delivered file holding `token`, waiting (bounded) for Postfix to deliver.
        func delivered(token: String) throws -> Data? {
            let maildir = URL(fileURLWithPath: try env.value("POSTFIX_MAILDIR")).appendingPathComponent("new")
            for _ in 0..<100 {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: maildir.path)) ?? []
                for name in names {
                    if let data = FileManager.default.contents(atPath: maildir.appendingPathComponent(name).path),
                       String(decoding: data, as: UTF8.self).contains("<\(token)@client.test>") {
                        return data
                    }
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return nil
        }

        func postfixLog() -> String {
            (try? String(contentsOfFile: try env.value("POSTFIX_LOG"), encoding: .utf8)) ?? ""
        }

        /// The message arrived; Maildir stores LF line ends, so compare with CRLF made LF.
        func expectDelivered(_ message: Data, token: String) throws {
            let stored = try delivered(token: token)
            #expect(stored != nil, "not delivered\n\(postfixLog())\n\(postern.logs())")
            let sent = Data(String(decoding: message, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n").utf8)
            #expect(stored.map { $0.suffix(sent.count) == sent } == true,
                    "delivered:\n\(String(decoding: stored ?? Data(), as: UTF8.self))")
        }
    }

    static func token() -> String { "t" + UUID().uuidString.prefix(12).lowercased() }

    /// smtplib logs in by each method and its message arrives byte for byte; Postfix sees the login via XCLIENT.
    @Test(arguments: ["plain", "plain-noir", "login", "cram-md5", "external"])
    func smtplibByMethod(method: String) async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let token = Self.token()
        let message = try stack.writeMessage(token: token)
        let result = try await stack.client(["send", "127.0.0.1", stack.port, "alice", "wonderland", message.path,
                                       "--method", method])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["ehlo"] as? String)?.contains("AUTH PLAIN LOGIN CRAM-MD5 EXTERNAL") == true)
        try stack.expectDelivered(message.bytes, token: token)
        #expect(stack.postfixLog().contains("sasl_method=XCLIENT, sasl_username=alice"))
        let headers = try stack.env.authRequests().last?["headers"] as? [String: String] ?? [:]
        #expect(headers["Auth-Method"] == (["cram-md5": "cram-md5", "external": "external"][method] ?? "plain"))
        #expect(headers["Auth-Protocol"] == "smtp")
        #expect(headers["Client-Host"] == "[UNAVAILABLE]")
    }

    /// swaks logs in by each method and its mail reaches Postfix's Maildir.
    @Test(arguments: ["PLAIN", "LOGIN", "CRAM-MD5"])
    func swaksByMethod(method: String) async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let token = Self.token()
        let result = try await ProcessRunner.run(
            "/usr/bin/swaks",
            ["--server", "127.0.0.1:\(stack.port)", "--to", "alice@mail.test", "--from", "bob@mail.test",
             "--helo", "swaks.test", "-a", method, "-au", "alice", "-ap", "wonderland",
             "--header", "Message-ID: <\(token)@client.test>", "--timeout", "30"],
            timeout: 60)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect(try stack.delivered(token: token) != nil, "\(result.stdout)\n\(stack.postfixLog())")
    }

    /// XCLIENT carries ADDR and a login with a space and a "+" (xtext); Postfix records them exactly.
    /// (Under POSTERN_ORACLE=nginx this fails: nginx 1.22 sends the space raw and Postfix answers 501.)
    @Test func xclientLoginWithSpaceAndPlus() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let token = Self.token()
        let message = try stack.writeMessage(token: token)
        let result = try await stack.client(["send", "127.0.0.1", stack.port, oddLogin, "odd-pass", message.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        try stack.expectDelivered(message.bytes, token: token)
        let log = stack.postfixLog()
        #expect(log.contains("client=unknown[127.0.0.1], sasl_method=XCLIENT, sasl_username=\(oddLogin)"), "\(log)")
    }

    /// Everything up to DATA in one write (pipelining): the replies come back in order and the mail arrives.
    @Test func pipelinedLoginAndEnvelope() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let token = Self.token()
        let message = try stack.writeMessage(token: token)
        let result = try await stack.client(["pipeline", "127.0.0.1", stack.port, "alice", "wonderland", message.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect(result.json["greeting"] as? [String] == ["220 mail.test ESMTP ready"])
        try stack.expectDelivered(message.bytes, token: token)
    }

    /// smtp_auth none: mail without AUTH flows; the auth service sees the envelope, and a failed AUTH
    /// before it lends neither its user name nor its password (nginx sends both; the oracle run fails here).
    @Test func authNoneAfterFailedLogin() async throws {
        let stack = try await Stack(authArguments: "--accept-none", serverExtra: "smtp_auth plain login none;")
        defer { stack.stop() }
        let token = Self.token()
        let message = try stack.writeMessage(token: token, from: "carol@mail.test")
        let result = try await stack.client(["none", "127.0.0.1", stack.port, message.path,
                                       "--fail-user", "alice", "--fail-pass", "wrong-password"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["failed_auth"] as? [Any])?.first as? Int == 535)
        try stack.expectDelivered(message.bytes, token: token)
        let requests = try stack.env.authRequests().compactMap { $0["headers"] as? [String: String] }
        #expect(requests.count == 2)
        #expect(requests.first?["Auth-User"] == "alice")
        let none = requests.last ?? [:]
        #expect(none["Auth-Method"] == "none")
        #expect((none["Auth-User"] ?? "").isEmpty, "\(none)")
        #expect((none["Auth-Pass"] ?? "").isEmpty, "\(none)")
        #expect(none["Auth-SMTP-Helo"] == "client.test")
        // The command lines as the client typed them (smtplib writes "mail FROM:").
        #expect(none["Auth-SMTP-From"] == "mail FROM:<carol@mail.test>")
        #expect(none["Auth-SMTP-To"] == "rcpt TO:<alice@mail.test>")
        #expect(none["Client-Host"] == "[UNAVAILABLE]")
        #expect(!stack.postfixLog().contains("sasl_username=alice"))
    }

    /// proxy_smtp_auth: Postern logs in to the backend (Dovecot submission) with AUTH PLAIN as the
    /// auth service's Auth-User/Auth-Pass and the client gets "235". (The test Dovecot then drops the
    /// session: its relay host is not running; only the login is checked.)
    @Test func proxySMTPAuthToSubmission() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        let postern = try await PosternProcess(environment: env, protocol: "smtp",
                                         serverExtra: "proxy_smtp_auth on; xclient off;")
        defer { postern.stop() }
        let result = try await ProcessRunner.client(
            "smtp_client.py", ["login", "127.0.0.1", String(postern.port), "carol", "carolpass", "--method", "login"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(postern.logs())")
        let dovecotLog = (try? String(contentsOfFile: try env.value("DOVECOT_LOG"), encoding: .utf8)) ?? ""
        #expect(dovecotLog.contains("Login: user=<carol.backend>, method=PLAIN"), "\(dovecotLog)")
    }

    /// smtp_greeting_delay: a client that talks before the greeting gets "503" and is closed.
    @Test func talkingBeforeDelayedGreeting() async throws {
        let stack = try await Stack(serverExtra: "smtp_greeting_delay 2s;")
        defer { stack.stop() }
        let result = try await stack.client(["early", "127.0.0.1", stack.port])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["received"] as? [String])?.count == 1)
    }

    /// max_errors: after five invalid commands the session is closed.
    @Test func tooManyErrors() async throws {
        let stack = try await Stack(serverExtra: "max_errors 5;")
        defer { stack.stop() }
        let result = try await stack.client(["errors", "127.0.0.1", stack.port])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["replies"] as? [String])?.count == 5)
    }
}
