import Foundation
import TestSupport
import Glibc
import Testing
@testable import Server

@Suite(.serialized) struct DeployProbeTests {
    /// Valid from 2020-01-01 to 2020-02-01 (made with `openssl ca -startdate -enddate`).
    static let expiredCertificate = """
        -----BEGIN CERTIFICATE-----
        MIIBJjCBzAIBATAKBggqhkjOPQQDAjAfMR0wGwYDVQQDDBRleHBpcmVkLmV4YW1w
        bGUudGVzdDAeFw0yMDAxMDEwMDAwMDBaFw0yMDAyMDEwMDAwMDBaMB8xHTAbBgNV
        BAMMFGV4cGlyZWQuZXhhbXBsZS50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD
        QgAE+w1JgsfZxw/2CKFrmkg++0xIrDRFijX/1PSfp4k1h/PmqIulE5eymUcrnFxT
        b1dTH+Y53pT+r9vAZrTMM0SgTTAKBggqhkjOPQQDAgNJADBGAiEAgAMvUKwqCnCm
        29Gjxmtsu+qF1mLYjEvSJli1lqOpegkCIQCrJ4iWVpNy0F9KlUGl0OU+XTmqhopf
        ICmFPRaxk+I6eQ==
        -----END CERTIFICATE-----

        """

    /// `-P` means "test, then probe", alone or combined as `-tP`.
    @Test func commandLineProbeFlag() throws {
        for args in [["-P"], ["-t", "-P"], ["-tqP"]] {
            let options = try parseCommandLine(args).get()
            #expect(options.probe && options.testConfig, "\(args)")
        }
        #expect(try parseCommandLine(["-t"]).get().probe == false)
    }

    /// Certificate files: an expired one, garbage and a missing file fail; a fresh one passes with its days left.
    @Test func certificateChecks() throws {
        let dir = try makeTempDirectory("certs")
        try Self.expiredCertificate.write(toFile: dir + "/expired.pem", atomically: true, encoding: .utf8)
        try "not a certificate\n".write(toFile: dir + "/garbage.pem", atomically: true, encoding: .utf8)
        #expect(ConfigProbe.checkCertificate(dir + "/expired.pem") == ProbeCheck(
            subject: "ssl_certificate \(dir)/expired.pem", ok: false, detail: "expired"))
        #expect(ConfigProbe.checkCertificate(dir + "/garbage.pem").detail == "not a PEM certificate")
        #expect(ConfigProbe.checkCertificate(dir + "/missing.pem").detail.hasPrefix("fopen() failed (2:"))
        guard let made = runTool("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt",
                                                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                                                      dir + "/key.pem", "-out", dir + "/fresh.pem", "-days", "30",
                                                      "-subj", "/CN=fresh.example.test"]),
              made.status == 0 else { return }
        let fresh = ConfigProbe.checkCertificate(dir + "/fresh.pem")
        #expect(fresh.ok && (fresh.detail.hasPrefix("valid, expires in 29 days") || fresh.detail.hasPrefix("valid, expires in 30 days")),
                "\(fresh)")
    }

    /// `postern -t -P` sends the canary to auth_http, checks the backend it names greets, and reports success.
    @Test func probeSucceedsAgainstLiveServices() throws {
        guard let binary = posternBinary else { return }
        let seen = Transcript()
        let backend = FakeServer { conn in conn.send("* OK fake backend ready\r\n"); _ = conn.readLine() }
        let auth = FakeServer { conn in
            var headers: [String] = []
            while let line = conn.readLine(), !line.isEmpty { headers.append(line) }
            seen.append(headers.joined(separator: "\n"))
            conn.send("HTTP/1.0 200 OK\r\nAuth-Status: OK\r\nAuth-Server: 127.0.0.1\r\nAuth-Port: \(backend.port)\r\n\r\n")
        }
        defer { auth.stop(); backend.stop() }
        let dir = try makeTempDirectory("probe")
        let config = minimalConfig(dir: dir, servers: ["listen 127.0.0.1:\(freeLoopbackPort()); protocol imap;"])
            .replacingOccurrences(of: "auth_http 127.0.0.1:1/auth;", with: "auth_http 127.0.0.1:\(auth.port)/auth;")
        try config.write(toFile: dir + "/postern.conf", atomically: true, encoding: .utf8)
        let result = try #require(runTool(binary, ["-t", "-P", "-c", dir + "/postern.conf"], seconds: 30))
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("[probe] ok     auth_http 127.0.0.1:\(auth.port)/auth (imap): accepted the canary"),
                "\(result.output)")
        #expect(result.output.contains("[probe] ok     backend 127.0.0.1:\(backend.port) (imap): greeting \"* OK fake backend ready\""))
        #expect(result.output.contains("postern: probe successful (2 checks)"))
        #expect(seen.all.first?.contains("Auth-User: \(ConfigProbe.canaryUser)") == true, "\(seen.all)")
    }

    /// An auth service that does not answer and an expired certificate fail the probe with exit status 1; -q prints only failures.
    @Test func probeReportsFailures() throws {
        guard let binary = posternBinary else { return }
        let dir = try makeTempDirectory("probe-fail")
        try Self.expiredCertificate.write(toFile: dir + "/expired.pem", atomically: true, encoding: .utf8)
        let config = minimalConfig(dir: dir, servers: [
            "listen 127.0.0.1:\(freeLoopbackPort()); protocol imap; ssl_certificate \(dir)/expired.pem; "
                + "ssl_certificate_key \(dir)/expired.pem;",
        ])
        try config.write(toFile: dir + "/postern.conf", atomically: true, encoding: .utf8)
        let result = try #require(runTool(binary, ["-t", "-q", "-P", "-c", dir + "/postern.conf"], seconds: 30))
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("[probe] FAILED auth_http 127.0.0.1:1/auth (imap): no answer"), "\(result.output)")
        #expect(result.output.contains("[probe] FAILED ssl_certificate \(dir)/expired.pem: expired"))
        #expect(result.output.contains("postern: probe failed (2 of 2 checks)"))
        #expect(!result.output.contains("syntax is ok"))
    }
}
