import Foundation
import Testing

/// Real POP3 clients (poplib) through the built Postern to a real Dovecot. Gated like
/// the IMAP tests; `POSTERN_ORACLE=nginx` runs them against nginx's mail proxy.
@Suite("POP3 through Postern", .enabled(if: PosternBinary.canProxy, "postern cannot proxy yet"))
struct POP3ProxyTests {
    final class Stack {
        let env: TestEnvironment
        let postern: PosternProcess

        init(authArguments: String = "") async throws {
            env = try await TestEnvironment(authArguments: authArguments)
            do {
                postern = try await PosternProcess(
                    environment: env, protocol: "pop3", serverExtra: "        pop3_auth plain apop cram-md5;")
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
            try await ProcessRunner.client("pop3_client.py", arguments)
        }
    }

    /// USER/PASS and APOP log in through the proxy and retrieve a seeded message.
    @Test(arguments: ["user", "apop"])
    func loginByMethod(method: String) async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["login", "127.0.0.1", stack.port, "alice", "wonderland", "--method", method])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect(result.json["count"] as? Int == 3)
        let request = try stack.env.authRequests().last?["headers"] as? [String: String] ?? [:]
        #expect(request["Auth-Method"] == (method == "apop" ? "apop" : "plain"))
        #expect(request["Auth-Protocol"] == "pop3")
        if method == "apop" {
            #expect(request["Auth-Salt"]?.hasPrefix("<") == true)
        }
    }

    /// A wrong password gets "-ERR" with the auth service's message.
    @Test func failedLogin() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["fail", "127.0.0.1", stack.port, "alice", "not-the-password"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["error"] as? String)?.contains("Invalid login or password") == true)
    }

    /// Auth service down: nginx's "-ERR internal server error", then the connection closes.
    @Test func authServiceDown() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        try await stack.env.stopDaemon("AUTH_PID")
        let result = try await stack.client(["raw", "127.0.0.1", stack.port, "alice", "wonderland"])
        let lines = result.json["lines"] as? [String] ?? []
        #expect(lines.last == "-ERR internal server error", "\(lines)\n\(stack.postern.logs())")
        #expect(result.json["closed"] as? Bool == true)
    }
}
