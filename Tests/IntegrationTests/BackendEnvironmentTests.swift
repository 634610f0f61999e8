import Foundation
import Testing

/// The test environment itself (Dovecot and the example auth service), checked without
/// Postern, so a failing proxy test can be trusted to be about the proxy.
@Suite("Backend environment")
struct BackendEnvironmentTests {
    /// Dovecot started by testenv.sh accepts an imaplib LOGIN and shows the seeded INBOX.
    @Test func dovecotDirectLogin() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        let result = try await ProcessRunner.client(
            "imap_client.py",
            ["login", "127.0.0.1", String(try env.imapPort), try env.value("TEST_USER"), try env.value("TEST_PASS")])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.json["exists"] as? Int == 3)
        #expect((result.json["greeting"] as? String)?.contains("Dovecot") == true)
    }

    /// The seeded 20 MiB message comes back from Dovecot with the SHA-256 testenv.sh recorded.
    @Test func dovecotLargeMessageMatchesRecordedDigest() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        let result = try await ProcessRunner.client(
            "imap_client.py",
            ["large", "127.0.0.1", String(try env.imapPort), try env.value("LARGE_USER"),
             try env.value("TEST_PASS"), try env.value("LARGE_FOLDER"), try env.value("LARGE_SHA256")])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.json["size"] as? Int == Int(try env.value("LARGE_SIZE")))
    }

    /// Dovecot's POP3 accepts poplib USER/PASS and shows the seeded messages.
    @Test func dovecotDirectPOP3Login() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        let result = try await ProcessRunner.client(
            "pop3_client.py",
            ["login", "127.0.0.1", String(try env.pop3Port), try env.value("TEST_USER"), try env.value("TEST_PASS")])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.json["count"] as? Int == 3)
    }

    /// Dovecot's POP3 lists the three seeded messages to curl.
    @Test func dovecotDirectPOP3WithCurl() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        let result = try await ProcessRunner.run(
            "/usr/bin/curl",
            ["-sS", "--max-time", "20", "pop3://127.0.0.1:\(try env.pop3Port)/",
             "-u", "\(try env.value("TEST_USER")):\(try env.value("TEST_PASS"))"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(whereSeparator: \.isNewline).count == 3)
    }

    /// The auth service answers a good PLAIN login with nginx's OK headers and the backend address.
    @Test func authServiceAcceptsPlain() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        let reply = try await AuthHTTP.request(env, [
            "Auth-Method": "plain", "Auth-User": "alice", "Auth-Pass": "wonderland",
            "Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "127.0.0.1",
        ])
        #expect(reply["Auth-Status"] == "OK")
        #expect(reply["Auth-Server"] == "127.0.0.1")
        #expect(reply["Auth-Port"] == String(try env.imapPort))
        #expect(reply["Auth-Pass"] == "wonderland")
    }

    /// A wrong password gets "Invalid login or password" and Auth-Wait, never a server.
    @Test func authServiceRejectsWrongPassword() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        for user in ["alice", "nobody"] {
            let reply = try await AuthHTTP.request(env, [
                "Auth-Method": "plain", "Auth-User": user, "Auth-Pass": "wrong",
                "Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "127.0.0.1",
            ])
            #expect(reply["Auth-Status"] == "Invalid login or password")
            #expect(reply["Auth-Wait"] == "1")
            #expect(reply["Auth-Server"] == nil)
        }
    }

    /// CRAM-MD5 is verified as HMAC-MD5 of the salt keyed by the password; the reply
    /// carries the backend account and its clear password for the backend login.
    @Test func authServiceVerifiesCramMD5() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        let salt = "<1896.697170952@mail.test>"
        let good = try await AuthHTTP.hmacMD5(key: "carolpass", message: salt)
        let reply = try await AuthHTTP.request(env, [
            "Auth-Method": "cram-md5", "Auth-User": "carol", "Auth-Pass": good, "Auth-Salt": salt,
            "Auth-Protocol": "pop3", "Auth-Login-Attempt": "1", "Client-IP": "127.0.0.1",
        ])
        #expect(reply["Auth-Status"] == "OK")
        #expect(reply["Auth-Port"] == String(try env.pop3Port))
        #expect(reply["Auth-User"] == "carol.backend")
        #expect(reply["Auth-Pass"] == "b4ckend-secret")

        let bad = try await AuthHTTP.hmacMD5(key: "not-the-password", message: salt)
        let refused = try await AuthHTTP.request(env, [
            "Auth-Method": "cram-md5", "Auth-User": "carol", "Auth-Pass": bad, "Auth-Salt": salt,
            "Auth-Protocol": "pop3", "Auth-Login-Attempt": "1", "Client-IP": "127.0.0.1",
        ])
        #expect(refused["Auth-Status"] == "Invalid login or password")
    }

    /// APOP is verified as MD5 of salt then password (RFC 1939 §7).
    @Test func authServiceVerifiesAPOP() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        let salt = "<1896.697170952@mail.test>"
        let digest = try await AuthHTTP.md5(salt + "builder")
        let reply = try await AuthHTTP.request(env, [
            "Auth-Method": "apop", "Auth-User": "bob", "Auth-Pass": digest, "Auth-Salt": salt,
            "Auth-Protocol": "pop3", "Auth-Login-Attempt": "1", "Client-IP": "127.0.0.1",
        ])
        #expect(reply["Auth-Status"] == "OK")
        #expect(reply["Auth-Pass"] == "builder")
    }

    /// The request log has one JSON line per request with every header, the password masked.
    @Test func authServiceLogsHeadersWithPasswordMasked() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        for attempt in 1...3 {
            _ = try await AuthHTTP.request(env, [
                "Auth-Method": "plain", "Auth-User": "alice", "Auth-Pass": "wonderland",
                "Auth-Protocol": "imap", "Auth-Login-Attempt": String(attempt), "Client-IP": "127.0.0.9",
            ])
        }
        let requests = try env.authRequests()
        #expect(requests.count == 3)
        let headers = requests.last?["headers"] as? [String: String] ?? [:]
        #expect(headers["Auth-Pass"] == "***")
        #expect(headers["Client-IP"] == "127.0.0.9")
        #expect(headers["Auth-Login-Attempt"] == "3")
        let raw = try String(contentsOfFile: try env.value("AUTH_LOG"), encoding: .utf8)
        #expect(!raw.contains("wonderland"))
    }

    /// --delay holds every answer back, for proxy timeout tests.
    @Test func authServiceDelay() async throws {
        let env = try await TestEnvironment(authArguments: "--delay 1.5")
        defer { env.stop() }
        let started = Date()
        let reply = try await AuthHTTP.request(env, [
            "Auth-Method": "plain", "Auth-User": "bob", "Auth-Pass": "builder", "Auth-Protocol": "imap",
        ])
        #expect(reply["Auth-Status"] == "OK")
        #expect(Date().timeIntervalSince(started) >= 1.5)
    }

    /// Fault modes: --mode 500 answers HTTP 500, --mode garbage answers no HTTP at all.
    @Test func authServiceFaultModes() async throws {
        let failing = try await TestEnvironment(authArguments: "--mode 500")
        defer { failing.stop() }
        let status = try await ProcessRunner.run(
            "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", try failing.authURL])
        #expect(status.stdout == "500")

        let garbage = try await TestEnvironment(authArguments: "--mode garbage")
        defer { garbage.stop() }
        let broken = try await ProcessRunner.run("/usr/bin/curl", ["-sS", "--max-time", "10", try garbage.authURL])
        #expect(broken.status != 0)
    }
}

/// curl as an auth_http client, so the service is checked by a client that is not ours.
enum AuthHTTP {
    /// Sends one GET with the given headers; returns the reply headers (last value wins).
    static func request(_ env: TestEnvironment, _ headers: [String: String]) async throws -> [String: String] {
        var arguments = ["-sS", "-D", "-", "-o", "/dev/null", "--max-time", "10", try env.authURL]
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            arguments += ["-H", "\(name): \(value)"]
        }
        let output = try await ProcessRunner.run("/usr/bin/curl", arguments, timeout: 20)
        var reply: [String: String] = [:]
        for line in output.stdout.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            reply[String(line[..<colon])] = value
        }
        return reply
    }

    static func hmacMD5(key: String, message: String) async throws -> String {
        try await python("import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.md5).hexdigest())", [key, message])
    }

    static func md5(_ text: String) async throws -> String {
        try await python("import hashlib,sys; print(hashlib.md5(sys.argv[1].encode()).hexdigest())", [text])
    }

    private static func python(_ code: String, _ arguments: [String]) async throws -> String {
        let output = try await ProcessRunner.run("/usr/bin/env", ["python3", "-c", code] + arguments, timeout: 20)
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
