import Foundation
import Testing

/// A password nginx's 128-byte POP3 buffer cannot take inside AUTH PLAIN.
let longPassword = String(repeating: "Lp0-", count: 25)

/// Real POP3 clients (poplib) through the built Postern to a real Dovecot, routed by
/// the example auth service. Gated like the IMAP tests.
@Suite("POP3 through Postern", .enabled(if: PosternBinary.canProxy, "postern cannot proxy yet"))
struct POP3ProxyTests {
    final class Stack {
        let env: TestEnvironment
        let postern: PosternProcess

        init(serverExtra: String = "pop3_auth plain apop cram-md5 external;") async throws {
            // EXTERNAL here is the plaintext SASL exchange; the TLS tests send real certificates.
            env = try await TestEnvironment(authArguments: "--external-by-name",
                                            extraUsers: ["longpw \(longPassword) 127.0.0.1 *"])
            do {
                postern = try await PosternProcess(environment: env, protocol: "pop3", serverExtra: serverExtra)
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

    /// Every method (USER/PASS, APOP, AUTH PLAIN with and without initial response, LOGIN, CRAM-MD5,
    /// EXTERNAL) reaches the mailbox.
    @Test(arguments: ["user", "apop", "plain", "plain-ir", "login", "cram-md5", "external"])
    func loginByMethod(method: String) async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["login", "127.0.0.1", stack.port, "alice", "wonderland", "--method", method])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect(result.json["count"] as? Int == 3)
        #expect((result.json["subject"] as? String)?.contains("for alice") == true)
        let headers = try stack.env.authRequests().last?["headers"] as? [String: String] ?? [:]
        let expected = ["apop": "apop", "cram-md5": "cram-md5", "external": "external"][method] ?? "plain"
        #expect(headers["Auth-Method"] == expected)
        #expect(headers["Auth-Protocol"] == "pop3")
        if method == "apop" || method == "cram-md5" {
            #expect(headers["Auth-Salt"]?.hasPrefix("<") == true)
        }
    }

    /// APOP and CRAM-MD5 clients log in to the backend as the Auth-User/Auth-Pass the auth service names.
    @Test(arguments: ["apop", "cram-md5"])
    func digestLoginUsesAuthPass(method: String) async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["login", "127.0.0.1", stack.port, "carol", "carolpass", "--method", method])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["subject"] as? String)?.contains("carol.backend") == true)
    }

    /// AUTH PLAIN with a 100-character password (a 150-byte line) logs in, where nginx answers "-ERR"
    /// (the oracle run fails here by design).
    @Test func longPasswordAuthPlain() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        #expect(longPassword.count == 100)
        for method in ["plain-ir", "user"] {
            let result = try await stack.client(["login", "127.0.0.1", stack.port, "longpw", longPassword, "--method", method])
            #expect(result.status == 0, "\(method): \(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
            #expect(result.json["count"] as? Int == 3)
        }
    }

    /// The greeting carries the APOP salt <...@server_name>; CAPA and a bare AUTH list the SASL methods.
    @Test func greetingAndCapabilities() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["capa", "127.0.0.1", stack.port])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let greeting = result.json["greeting"] as? String ?? ""
        #expect(greeting.hasPrefix("+OK POP3 ready <") && greeting.hasSuffix("@mail.test>"), "\(greeting)")
        let capa = result.json["capa"] as? [String: [String]] ?? [:]
        #expect(capa["SASL"] == ["PLAIN", "LOGIN", "CRAM-MD5", "EXTERNAL"])
        #expect(capa["USER"] != nil && capa["TOP"] != nil && capa["UIDL"] != nil)
        #expect(result.json["auth_methods"] as? [String] == ["PLAIN", "LOGIN", "CRAM-MD5", "EXTERNAL"])
    }

    /// Without apop or cram-md5 in pop3_auth the greeting has no salt.
    @Test func greetingWithoutSalt() async throws {
        let stack = try await Stack(serverExtra: "")
        defer { stack.stop() }
        let result = try await stack.client(["capa", "127.0.0.1", stack.port])
        #expect(result.json["greeting"] as? String == "+OK POP3 ready")
        #expect((result.json["capa"] as? [String: [String]])?["SASL"] == ["PLAIN", "LOGIN"])
    }

    /// A wrong password gets the auth service's "-ERR" message and never reaches Dovecot.
    @Test func failedLogin() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        let result = try await stack.client(["fail", "127.0.0.1", stack.port, "alice", "not-the-password"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["error"] as? String)?.contains("-ERR") == true)
        let dovecotLog = (try? String(contentsOfFile: try stack.env.value("DOVECOT_LOG"), encoding: .utf8)) ?? ""
        #expect(!dovecotLog.contains("pop3-login: Login: user=<alice>"))
    }

    /// max_errors: the fifth invalid command is answered "-ERR" and the session closed.
    @Test func tooManyErrors() async throws {
        let stack = try await Stack(serverExtra: "max_errors 5;")
        defer { stack.stop() }
        let result = try await stack.client(["errors", "127.0.0.1", stack.port])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect(result.json["replies"] as? [String] == Array(repeating: "-ERR invalid command", count: 5))
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
