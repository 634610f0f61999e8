import Foundation
import Testing

/// A test environment, the certificates of scripts/gen-test-certs.sh in its
/// directory, and Postern with a TLS configuration in front of it.
final class TLSStack {
    let env: TestEnvironment
    let postern: PosternProcess
    let certs: String

    /// `ssl_certificate` for mail.test is set at mail level; `listenParameters`
    /// ("ssl") and the other strings go where `PosternProcess` puts them, with
    /// `@CERTS@` (the certificate directory), `@BACKEND_CA@` (the test
    /// Dovecot's CA) and `@DIR@` (the environment's directory) filled in.
    init(protocol name: String = "imap", listenParameters: String = "", serverExtra: String = "",
         mailExtra: String = "", extraServers: String = "", authArguments: String = "",
         postfix: Bool = false, timeout: String = "10s") async throws {
        env = try await TestEnvironment(authArguments: authArguments, postfix: postfix)
        do {
            guard let dir = TestCertificates.directory else { throw TLSStackError.certificates(TestCertificates.failure) }
            certs = dir
            let backendCA = (try? env.value("BACKEND_CA")) ?? ""
            let envDirectory = env.directory.path
            func fill(_ text: String) -> String {
                text.replacingOccurrences(of: "@CERTS@", with: dir).replacingOccurrences(of: "@BACKEND_CA@", with: backendCA)
                    .replacingOccurrences(of: "@DIR@", with: envDirectory)
            }
            let tlsMail = """
                    ssl_certificate \(dir)/mail-rsa.pem;
                    ssl_certificate_key \(dir)/mail-rsa.key;
                    ssl_session_cache builtin:1000;
                    timeout \(timeout);
                \(fill(mailExtra))
                """
            postern = try await PosternProcess(
                environment: env, protocol: name, mailExtra: tlsMail,
                serverExtra: fill(serverExtra),
                listenParameters: listenParameters,
                extraServers: fill(extraServers))
        } catch {
            env.stop()
            throw error
        }
    }

    var port: String { String(postern.port) }
    var ca: String { certs + "/ca.pem" }

    func stop() {
        postern.stop()
        env.stop()
    }

    func tlsClient(_ arguments: [String]) async throws -> ProcessOutput {
        try await ProcessRunner.client("tls_client.py", arguments)
    }

    /// `openssl s_client` against the proxy with `input` on its stdin, then a
    /// pause so the replies arrive before stdin closes.
    func sClient(_ options: [String], input: String, pause: Double = 1.5) async throws -> ProcessOutput {
        let quoted = options.map { "'\($0)'" }.joined(separator: " ")
        let script = "(printf '\(input)'; sleep \(pause)) | openssl s_client -connect 127.0.0.1:\(port) "
            + "-CAfile '\(ca)' \(quoted) 2>&1"
        return try await ProcessRunner.run("/bin/sh", ["-c", script], timeout: 30)
    }

    /// The last auth request's headers.
    func lastAuthHeaders() throws -> [String: String] {
        try env.authRequests().last?["headers"] as? [String: String] ?? [:]
    }

    func errorLog() -> String {
        (try? String(contentsOf: postern.errorLog, encoding: .utf8)) ?? ""
    }
}

enum TLSStackError: Error {
    case certificates(String)
}

/// The certificates of scripts/gen-test-certs.sh, made once per test run (the
/// RSA keys and DH parameters cost seconds of CPU; parallel tests share them)
/// in a temporary directory of this run.
enum TestCertificates {
    nonisolated(unsafe) static var failure = ""
    static let directory: String? = {
        // scripts/test.sh makes them before the run.
        if let made = ProcessInfo.processInfo.environment["POSTERN_TEST_CERTS"],
           FileManager.default.fileExists(atPath: made + "/.complete") {
            return made
        }
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("postern-tls-certs-\(getpid())").path
        let script = Repository.scripts.appendingPathComponent("gen-test-certs.sh").path
        guard let made = try? ProcessRunner.runBlocking(script, [dir], timeout: 180), made.status == 0 else {
            failure = "scripts/gen-test-certs.sh failed"
            return nil
        }
        return dir
    }()
}
