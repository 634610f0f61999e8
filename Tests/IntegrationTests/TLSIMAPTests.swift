import Foundation
import Testing

/// IMAP over TLS through Postern to a real Dovecot: implicit TLS (`listen ...
/// ssl`), STARTTLS, SNI, session resumption, client certificates, and the
/// STARTTLS command-injection case. Certificates come from scripts/gen-test-certs.sh.
@Suite("TLS: IMAP through Postern", .serialized, .enabled(if: PosternBinary.canProxy && !PosternBinary.isNginxOracle,
                                             "postern cannot proxy yet"))
struct TLSIMAPTests {
    /// imaplib over implicit TLS verifies mail.test, logs in and reads the INBOX; the auth request says TLS.
    @Test func imaplibImplicitTLS() async throws {
        let stack = try await TLSStack(listenParameters: "ssl")
        defer { stack.stop() }
        let result = try await stack.tlsClient(["login", "imap", "ssl", "127.0.0.1", stack.port, "alice", "wonderland",
                                                "--ca", stack.ca])
        #expect(result.json["exists"] as? Int == 3, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect(result.json["subject"] as? String == "mail.test")
        let headers = try stack.lastAuthHeaders()
        #expect(headers["Auth-SSL"] == "on")
        #expect(headers["Auth-SSL-Protocol"]?.hasPrefix("TLSv1.") == true)
        #expect(headers["Auth-SSL-Cipher"]?.isEmpty == false)
        // Without ssl_verify_client nginx sends no verify result or certificate fields.
        #expect(headers["Auth-SSL-Verify"] == nil && headers["Auth-SSL-Subject"] == nil)
    }

    /// curl fetches over imaps:// and over STARTTLS with --ssl-reqd, verifying the certificate.
    @Test func curlImapsAndSSLRequired() async throws {
        let implicit = try await TLSStack(listenParameters: "ssl")
        let viaCurl = try await ProcessRunner.run("/usr/bin/curl", [
            "-sS", "--max-time", "20", "--cacert", implicit.ca, "--resolve", "mail.test:\(implicit.port):127.0.0.1",
            "--user", "alice:wonderland", "imaps://mail.test:\(implicit.port)/INBOX", "-X", "EXAMINE INBOX"])
        implicit.stop()
        #expect(viaCurl.status == 0, "\(viaCurl.stderr)")
        #expect(viaCurl.stdout.contains("3 EXISTS"), "\(viaCurl.stdout)")

        let starttls = try await TLSStack(serverExtra: "starttls only;")
        defer { starttls.stop() }
        let required = try await ProcessRunner.run("/usr/bin/curl", [
            "-sS", "--max-time", "20", "--ssl-reqd", "--cacert", starttls.ca,
            "--resolve", "mail.test:\(starttls.port):127.0.0.1",
            "--user", "alice:wonderland", "imap://mail.test:\(starttls.port)/INBOX", "-X", "EXAMINE INBOX"])
        #expect(required.status == 0, "\(required.stderr)\n\(starttls.postern.logs())")
        #expect(required.stdout.contains("3 EXISTS"), "\(required.stdout)")
    }

    /// STARTTLS is advertised before TLS and not after; imaplib upgrades, logs in and reads the INBOX.
    @Test func imaplibStartTLS() async throws {
        let stack = try await TLSStack(serverExtra: "starttls on;")
        defer { stack.stop() }
        let result = try await stack.tlsClient(["login", "imap", "starttls", "127.0.0.1", stack.port, "alice",
                                                "wonderland", "--ca", stack.ca])
        #expect(result.json["exists"] as? Int == 3, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        let before = result.json["before"] as? [String] ?? []
        let after = result.json["after"] as? [String] ?? []
        #expect(before.contains("STARTTLS"))
        #expect(!after.contains("STARTTLS"))
    }

    /// With `starttls only`, plaintext IMAP says LOGINDISABLED and refuses LOGIN and AUTHENTICATE as nginx does.
    @Test func starttlsOnlyRefusesPlaintextLogin() async throws {
        let stack = try await TLSStack(serverExtra: "starttls only;")
        defer { stack.stop() }
        let result = try await stack.tlsClient(["plain", "imap", "127.0.0.1", stack.port, "alice", "wonderland"])
        let capabilities = result.json["capabilities"] as? String ?? ""
        #expect(capabilities.contains("STARTTLS") && capabilities.contains("LOGINDISABLED"), "\(result.stdout)")
        #expect((result.json["login_answer"] as? String)?.hasPrefix("b BAD") == true, "\(result.stdout)")
        #expect((result.json["auth_answer"] as? String)?.hasPrefix("c BAD") == true, "\(result.stdout)")
        #expect(try stack.env.authRequests().isEmpty)
    }

    /// A command pipelined behind STARTTLS in the same write is discarded, never answered over TLS.
    @Test func startTLSInjectionIsDiscarded() async throws {
        let stack = try await TLSStack(serverExtra: "starttls on;")
        defer { stack.stop() }
        let result = try await stack.tlsClient(["inject", "imap", "127.0.0.1", stack.port, "--ca", stack.ca])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect((result.json["starttls_answer"] as? String)?.hasPrefix("a OK") == true, "\(result.stdout)")
        #expect(result.json["injected_answered"] as? Bool == false, "\(result.stdout)")
        #expect((result.json["probe_answer"] as? String)?.contains("c OK") == true, "\(result.stdout)")
    }

    /// openssl s_client verifies the name; SNI picks the second server block's certificate on a shared address.
    @Test func sniPicksSecondCertificate() async throws {
        let stack = try await TLSStack(listenParameters: "ssl", extraServers: """
                server {
                    listen 127.0.0.1:@PORT@ ssl;
                    protocol imap;
                    server_name other.test;
                    ssl_certificate @CERTS@/other.pem;
                    ssl_certificate_key @CERTS@/other.key;
                }
            """)
        defer { stack.stop() }
        let mail = try await stack.sClient(["-servername", "mail.test", "-verify_hostname", "mail.test",
                                            "-verify_return_error"], input: "a LOGOUT\\r\\n")
        #expect(mail.stdout.contains("CN = mail.test") || mail.stdout.contains("CN=mail.test"), "\(mail.stdout)")
        #expect(mail.stdout.contains("Verify return code: 0 (ok)"), "\(mail.stdout)")
        #expect(mail.stdout.contains("* OK"), "\(mail.stdout)")
        let other = try await stack.sClient(["-servername", "other.test", "-verify_hostname", "other.test",
                                             "-verify_return_error"], input: "a LOGOUT\\r\\n")
        #expect(other.stdout.contains("CN = other.test") || other.stdout.contains("CN=other.test"), "\(other.stdout)")
        #expect(other.stdout.contains("Verify return code: 0 (ok)"), "\(other.stdout)")
        // The chosen block serves the session: a login through it reaches Dovecot.
        let login = try await stack.tlsClient(["login", "imap", "ssl", "127.0.0.1", stack.port, "alice", "wonderland",
                                               "--ca", stack.ca, "--servername", "other.test"])
        #expect(login.json["exists"] as? Int == 3, "\(login.stdout)\n\(stack.postern.logs())")
        #expect(login.json["subject"] as? String == "other.test")
    }

    /// A session saved by s_client -sess_out is resumed with -sess_in.
    @Test func sessionResumption() async throws {
        let stack = try await TLSStack(listenParameters: "ssl")
        defer { stack.stop() }
        let session = stack.env.directory.appendingPathComponent("tls-session.pem").path
        let first = try await stack.sClient(["-servername", "mail.test", "-sess_out", session],
                                            input: "a LOGOUT\\r\\n")
        #expect(first.stdout.contains("* OK"), "\(first.stdout)")
        let second = try await stack.sClient(["-servername", "mail.test", "-sess_in", session],
                                             input: "a LOGOUT\\r\\n")
        #expect(second.stdout.contains("Reused, TLS"), "\(second.stdout)")
    }

    /// A handshake of garbage and a stalled one are closed (the stalled one after `timeout`) and logged at
    /// info, while another client logs in meanwhile.
    @Test func garbageAndStalledHandshakes() async throws {
        let stack = try await TLSStack(listenParameters: "ssl", timeout: "6s")
        defer { stack.stop() }
        let port = UInt16(stack.postern.port)
        let stalled = try RawClient(port: port)
        let garbage = try RawClient(port: port)
        try garbage.send(Array("GARBAGE GARBAGE GARBAGE\r\n".utf8))
        let started = Date()
        let login = try await stack.tlsClient(["login", "imap", "ssl", "127.0.0.1", stack.port, "alice", "wonderland",
                                               "--ca", stack.ca])
        #expect(login.json["exists"] as? Int == 3, "\(login.stdout)\n\(stack.postern.logs())")
        #expect(!stalled.waitForClose(seconds: 0.05), "the stalled handshake was closed before the other login ended")
        #expect(garbage.waitForClose(seconds: 5))
        #expect(stalled.waitForClose(seconds: 12))
        #expect(Date().timeIntervalSince(started) > 5, "the stalled handshake was closed before `timeout`")
        // The stream closes the socket as its handshake gives up; the session's log
        // line follows a moment later.
        var log = stack.errorLog()
        for _ in 0..<100 where !log.contains("SSL handshake failed: client timed out") {
            try await Task.sleep(for: .milliseconds(50))
            log = stack.errorLog()
        }
        #expect(log.contains("[info]") && log.contains("SSL handshake failed: wrong version number"), "\(log)")
        #expect(log.contains("SSL handshake failed: client timed out"), "\(log)")
    }

    /// ssl_verify_client on: a CA-signed certificate passes with Auth-SSL-* headers and the PEM, and
    /// AUTHENTICATE EXTERNAL logs in with it; an untrusted or missing one gets nginx's reply.
    @Test func clientCertificates() async throws {
        let stack = try await TLSStack(listenParameters: "ssl", serverExtra: """
                ssl_verify_client on;
                ssl_client_certificate @CERTS@/ca.pem;
                auth_http_pass_client_cert on;
                imap_auth plain external;
            """)
        defer { stack.stop() }
        let good = try await stack.tlsClient(["cert", "127.0.0.1", stack.port, "alice", "--ca", stack.ca,
                                              "--cert", stack.certs + "/client.pem", "--key", stack.certs + "/client.key"])
        #expect((good.json["first"] as? String)?.hasPrefix("* OK") == true, "\(good.stdout)\n\(stack.postern.logs())")
        #expect((good.json["external"] as? String)?.hasPrefix("a OK") == true, "\(good.stdout)\n\(stack.postern.logs())")
        let headers = try stack.lastAuthHeaders()
        #expect(headers["Auth-Method"] == "external")
        #expect(headers["Auth-SSL-Verify"] == "SUCCESS")
        #expect(headers["Auth-SSL-Subject"]?.contains("CN=alice") == true, "\(headers)")
        #expect(headers["Auth-SSL-Issuer"]?.contains("Postern Test CA") == true, "\(headers)")
        #expect(headers["Auth-SSL-Serial"]?.isEmpty == false)
        #expect(headers["Auth-SSL-Fingerprint"]?.count == 40)
        #expect(headers["Auth-SSL-Cert"]?.contains("BEGIN%20CERTIFICATE") == true, "\(headers)")

        let rogue = try await stack.tlsClient(["cert", "127.0.0.1", stack.port, "alice", "--ca", stack.ca,
                                               "--cert", stack.certs + "/rogue-client.pem",
                                               "--key", stack.certs + "/rogue-client.key"])
        #expect(rogue.json["first"] as? String == "* BYE SSL certificate error\r\n", "\(rogue.stdout)")
        let missing = try await stack.tlsClient(["cert", "127.0.0.1", stack.port, "alice", "--ca", stack.ca])
        #expect(missing.json["first"] as? String == "* BYE No required SSL certificate\r\n", "\(missing.stdout)")
        #expect(stack.errorLog().contains("client SSL certificate verify error"))
    }

    /// `ssl_verify_client optional`: no certificate is fine (Auth-SSL-Verify: NONE), the PEM is not sent
    /// without auth_http_pass_client_cert.
    @Test func optionalClientCertificate() async throws {
        let stack = try await TLSStack(listenParameters: "ssl", serverExtra: """
                ssl_verify_client optional;
                ssl_client_certificate @CERTS@/ca.pem;
            """)
        defer { stack.stop() }
        let result = try await stack.tlsClient(["login", "imap", "ssl", "127.0.0.1", stack.port, "alice", "wonderland",
                                                "--ca", stack.ca])
        #expect(result.json["exists"] as? Int == 3, "\(result.stdout)\n\(stack.postern.logs())")
        let headers = try stack.lastAuthHeaders()
        #expect(headers["Auth-SSL-Verify"] == "NONE")
        #expect(headers["Auth-SSL-Cert"] == nil)
    }

    /// `proxy_ssl on` with verification against the backend CA: Postern speaks TLS to Dovecot's imaps port.
    @Test func tlsToTheBackend() async throws {
        let stack = try await TLSStack(serverExtra: """
                proxy_ssl on;
                proxy_ssl_verify on;
                proxy_ssl_trusted_certificate @BACKEND_CA@;
                proxy_ssl_name localhost;
                auth_http_header X-Backend-TLS on;
            """)
        defer { stack.stop() }
        let result = try await ProcessRunner.client("imap_client.py", ["login", "127.0.0.1", stack.port, "alice",
                                                                       "wonderland", "--method", "login"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect(result.json["exists"] as? Int == 3)
        let dovecot = (try? String(contentsOfFile: try stack.env.value("DOVECOT_LOG"), encoding: .utf8)) ?? ""
        #expect(dovecot.contains("TLS"), "Dovecot did not log a TLS login:\n\(dovecot.suffix(2000))")
    }

    /// A 20 MiB message crosses the relay byte for byte with TLS on both sides (`listen ... ssl` and `proxy_ssl`).
    @Test func largeMessageOverTLSBothSides() async throws {
        let stack = try await TLSStack(listenParameters: "ssl", serverExtra: """
                proxy_ssl on;
                proxy_ssl_verify on;
                proxy_ssl_trusted_certificate @BACKEND_CA@;
                proxy_ssl_name localhost;
                proxy_buffer 16k;
                auth_http_header X-Backend-TLS on;
            """)
        defer { stack.stop() }
        let env = stack.env
        let result = try await stack.tlsClient(["large", "127.0.0.1", stack.port, try env.value("LARGE_USER"),
                                                try env.value("TEST_PASS"), try env.value("LARGE_FOLDER"),
                                                "--ca", stack.ca])
        #expect(result.json["sha256"] as? String == (try env.value("LARGE_SHA256")),
                "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        #expect(result.json["size"] as? Int == Int(try env.value("LARGE_SIZE")))
    }

    /// A backend whose certificate does not verify gets the client an internal error and an error line.
    @Test func backendVerificationFailure() async throws {
        let stack = try await TLSStack(serverExtra: """
                proxy_ssl on;
                proxy_ssl_verify on;
                proxy_ssl_trusted_certificate @CERTS@/ca.pem;
                auth_http_header X-Backend-TLS on;
            """)
        defer { stack.stop() }
        let result = try await ProcessRunner.client("imap_client.py", ["raw", "127.0.0.1", stack.port, "alice",
                                                                       "wonderland"])
        #expect(result.stdout.contains("internal server error"), "\(result.stdout)\n\(stack.postern.logs())")
        #expect(stack.errorLog().contains("[error]") && stack.errorLog().contains("upstream SSL handshake failed"),
                "\(stack.errorLog())")
    }
}

/// A plain TCP client that holds its connection, for stalled and garbage handshakes.
final class RawClient {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        if write(fd, bytes, bytes.count) != bytes.count { throw POSIXError(.EIO) }
    }

    /// True once the peer closed (read returns 0 or an error) within `seconds`.
    func waitForClose(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&p, 1, left) > 0 else { continue }
            if read(fd, &buffer, buffer.count) <= 0 { return true }
        }
        return false
    }
}
