import Foundation
import TestSupport
import Testing

/// Real IMAP clients through the built Postern to a real Dovecot, routed by the example
/// auth service. Gated until the binary can proxy (see `PosternBinary.canProxy`);
/// `POSTERN_ORACLE=nginx` runs the same tests against nginx's mail proxy.
@Suite("IMAP through Postern", .enabled(if: PosternBinary.canProxy, "postern cannot proxy yet"))
struct IMAPProxyTests {
    /// A test environment with Postern in front of it; stopped together.
    final class Stack {
        let env: TestEnvironment
        let postern: PosternProcess

        init(authArguments: String = "") async throws {
            env = try await TestEnvironment(authArguments: authArguments)
            do {
                postern = try await PosternProcess(environment: env)
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
            try await ProcessRunner.client("imap_client.py", arguments)
        }
    }

    /// Every configured method (LOGIN, AUTHENTICATE PLAIN/LOGIN/CRAM-MD5) logs in and reads the INBOX.
    @Test(arguments: ["login", "plain", "auth-login", "cram-md5"])
    func loginByMethod(method: String) async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["login", "127.0.0.1", stack.port, "alice", "wonderland", "--method", method])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect(result.json["exists"] as? Int == 3)
        #expect((result.json["subject"] as? String)?.contains("for alice") == true)
        let request = try stack.env.authRequests().last?["headers"] as? [String: String] ?? [:]
        // nginx names every clear-text method "plain" (LOGIN, AUTHENTICATE PLAIN and LOGIN).
        let expected = method == "cram-md5" ? "cram-md5" : "plain"
        #expect(request["Auth-Method"] == expected)
    }

    /// The auth reply's Auth-User/Auth-Pass choose the backend account, even for CRAM-MD5.
    @Test func backendAccountFromAuthReply() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["login", "127.0.0.1", stack.port, "carol", "carolpass", "--method", "cram-md5"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["subject"] as? String)?.contains("carol.backend") == true)
    }

    /// The auth request carries nginx's headers: method, user, protocol, attempt, client address.
    @Test func authRequestHeaders() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["login", "127.0.0.1", stack.port, "alice", "wonderland", "--method", "plain"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let requests = try stack.env.authRequests()
        #expect(requests.count == 1)
        let headers = requests.first?["headers"] as? [String: String] ?? [:]
        #expect(headers["Auth-Method"] == "plain")
        #expect(headers["Auth-User"] == "alice")
        #expect(headers["Auth-Pass"] == "***")
        #expect(headers["Auth-Protocol"] == "imap")
        #expect(headers["Auth-Login-Attempt"] == "1")
        #expect(headers["Client-IP"] == "127.0.0.1")
        #expect(requests.first?["path"] as? String == "/auth")
    }

    /// A wrong password is refused with the auth service's message and no backend session.
    @Test func failedLogin() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["fail", "127.0.0.1", stack.port, "alice", "not-the-password"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["error"] as? String)?.contains("Invalid login or password") == true)
        let dovecotLog = (try? String(contentsOfFile: try stack.env.value("DOVECOT_LOG"), encoding: .utf8)) ?? ""
        #expect(!dovecotLog.contains("Login: user=<alice>"))
    }

    /// A 20 MiB message is relayed byte for byte.
    @Test func largeMessageIntact() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let env = stack.env
        let result = try await stack.client(
            ["large", "127.0.0.1", stack.port, try env.value("LARGE_USER"), try env.value("TEST_PASS"),
             try env.value("LARGE_FOLDER"), try env.value("LARGE_SHA256")])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect(result.json["size"] as? Int == Int(try env.value("LARGE_SIZE")))
    }

    /// IDLE through the proxy: a message appended by another session wakes the idling one.
    @Test func idleNotification() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["idle", "127.0.0.1", stack.port, "bob", "builder"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["notified"] as? String)?.hasSuffix("EXISTS") == true)
    }

    /// curl's IMAP client logs in through Postern and fetches a message by UID.
    @Test func curlFetch() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await ProcessRunner.run(
            "/usr/bin/curl",
            ["-sS", "--max-time", "30", "imap://127.0.0.1:\(stack.port)/INBOX;UID=1", "-u", "alice:wonderland"])
        #expect(result.status == 0, "\(result.stderr)\n\(stack.postern.logs())")
        #expect(result.stdout.contains("Subject: Test message 1 for alice"))
    }

    /// Auth service down: nginx's temporary failure "* BAD internal server error", never OK.
    @Test func authServiceDown() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        try await stack.env.stopDaemon("AUTH_PID")
        try await expectInternalServerError(stack)
    }

    /// Auth service answering HTTP 500: the same temporary failure.
    @Test func authServiceError500() async throws {
        let stack = try await Stack(authArguments: "--mode 500")
        defer { stack.stop() }
        try await expectInternalServerError(stack)
    }

    /// Auth service answering garbage: the same temporary failure.
    @Test func authServiceGarbage() async throws {
        let stack = try await Stack(authArguments: "--mode garbage")
        defer { stack.stop() }
        try await expectInternalServerError(stack)
    }

    /// Backend down after a good auth reply: the same temporary failure, and Postern keeps serving.
    @Test func backendDown() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        try await stack.env.stopDaemon("DOVECOT_PID")
        try await expectInternalServerError(stack)
        #expect(loopbackPortAccepts(stack.postern.port))
    }

    private func expectInternalServerError(_ stack: Stack) async throws {
        let result = try await stack.client(["raw", "127.0.0.1", stack.port, "alice", "wonderland"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.json["lines"] as? [String] ?? []
        #expect(lines.contains("* BAD internal server error"), "\(lines)\n\(stack.postern.logs())")
        #expect(!lines.contains { $0.hasPrefix("a1 OK") })
    }
}
