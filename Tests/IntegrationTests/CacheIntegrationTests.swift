import Foundation
import Testing

/// The auth cache through the built Postern, with the example auth service
/// (which logs one JSON line per request) and a real Dovecot behind it.
@Suite("Auth cache through Postern", .enabled(if: PosternBinary.canProxy && !PosternBinary.isNginxOracle,
                                               "postern cannot proxy yet"))
struct CacheIntegrationTests {
    final class Stack {
        let env: TestEnvironment
        var postern: PosternProcess
        var cachePath: String { env.directory.appendingPathComponent("auth-cache.db").path }

        init() async throws {
            env = try await TestEnvironment()
            do {
                postern = try await Self.start(env)
            } catch {
                env.stop()
                throw error
            }
        }

        static func start(_ env: TestEnvironment) async throws -> PosternProcess {
            try await PosternProcess(environment: env, mailExtra: "    auth_cache \(env.directory.path)/auth-cache.db;")
        }

        func restart() async throws {
            postern.stop()
            postern = try await Self.start(env)
        }

        func login(_ user: String, _ password: String, method: String = "login") async throws -> ProcessOutput {
            try await ProcessRunner.client("imap_client.py", ["login", "127.0.0.1", String(postern.port), user, password,
                                                        "--method", method])
        }

        var authRequests: Int { (try? env.authRequests().count) ?? -1 }

        func stop() {
            postern.stop()
            env.stop()
        }
    }

    /// A repeated login is answered from the cache (one auth request), survives a restart, and works with the auth service down.
    @Test func repeatedLoginFromCache() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        for _ in 0..<3 {
            let result = try await stack.login("alice", "wonderland")
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
            #expect(result.json["exists"] as? Int == 3)
        }
        #expect(stack.authRequests == 1)

        try await stack.restart()
        #expect(try await stack.login("alice", "wonderland").status == 0)
        #expect(stack.authRequests == 1)

        try await stack.env.stopDaemon("AUTH_PID")
        let cached = try await stack.login("alice", "wonderland")
        #expect(cached.status == 0, "\(cached.stdout)\(cached.stderr)\n\(stack.postern.logs())")
    }

    /// A wrong password always asks the auth service and is refused; CRAM-MD5 is never cached.
    @Test func wrongPasswordAndCramAreNotCached() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        #expect(try await stack.login("alice", "wonderland").status == 0)
        #expect(try await stack.login("alice", "not-the-password").status != 0)
        #expect(try await stack.login("alice", "not-the-password").status != 0)
        #expect(stack.authRequests == 3)
        #expect(try await stack.login("alice", "wonderland", method: "cram-md5").status == 0)
        #expect(try await stack.login("alice", "wonderland", method: "cram-md5").status == 0)
        #expect(stack.authRequests == 5)
    }

    /// The cache file is 0600 and holds no password in clear, yet has readable views.
    @Test func cacheFileHoldsNoPassword() async throws {
        let stack = try await Stack()
        defer { stack.stop() }
        #expect(try await stack.login("carol", "carolpass").status == 0)
        stack.postern.stop()
        let attributes = try FileManager.default.attributesOfItem(atPath: stack.cachePath)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: stack.cachePath))
        bytes += (try? Data(contentsOf: URL(fileURLWithPath: stack.cachePath + "-wal"))) ?? Data()
        let users = try stack.env.users
        for secret in [users["carol"]?.password, users["carol"]?.backendPassword].compactMap({ $0 }) {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret) found in the cache file")
        }
        #expect(bytes.range(of: Data("carol".utf8)) != nil, "logins stay readable")
    }
}
