import Foundation
import Testing
@testable import Server

@Suite struct TLSClientCertificateTests {
    static func verifyingSet(_ mode: SSLVerifyClient = .on, crl: Bool = false) throws -> TLSServerContextSet {
        try tlsContextSet(tlsServerSettings {
            $0.verifyClient = mode
            $0.clientCertificate = TLSTestCerts.path("ca.pem")
            $0.verifyDepth = 2
            if crl { $0.crl = TLSTestCerts.path("ca.crl") }
        })
    }

    static func client(_ name: String) throws -> TLSClientContext {
        try tlsClient { $0.certificate = TLSTestCerts.path("\(name).pem"); $0.certificateKey = TLSTestCerts.path("\(name).key") }
    }

    /// A certificate from the trusted CA verifies: SUCCESS, and the subject, issuer, serial and fingerprint match openssl x509.
    @Test func trustedClientCertificate() throws {
        let (server, client) = try tlsConnected(server: try Self.verifyingSet(), client: try Self.client("client"))
        defer { server.close(); client.close() }
        #expect(server.clientVerify == "SUCCESS" && server.clientVerifyCode == 0)
        let cert = try #require(server.clientCertificate)
        #expect(cert.subject == "CN=alice,O=Postern Test")
        #expect(cert.issuer == "CN=Postern Test CA,O=Postern Test")
        let pemPath = TLSTestCerts.path("client.pem")
        let fp = try runCommand(["openssl", "x509", "-in", pemPath, "-noout", "-fingerprint", "-sha1"]).output
        let expected = fp.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: ":", with: "").lowercased() }
        #expect(cert.fingerprint == expected)
        let serial = try runCommand(["openssl", "x509", "-in", pemPath, "-noout", "-serial"]).output
        #expect("serial=" + cert.serial == serial.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(cert.pem == (try String(contentsOfFile: pemPath, encoding: .utf8)))
    }

    /// A certificate from an untrusted CA still completes the handshake, reported as FAILED with the reason.
    @Test func rogueClientCertificate() throws {
        let (server, client) = try tlsConnected(server: try Self.verifyingSet(), client: try Self.client("rogue-client"))
        defer { server.close(); client.close() }
        #expect(server.clientVerify.hasPrefix("FAILED:"))
        #expect(server.clientVerify == "FAILED:unable to verify the first certificate")
        #expect(server.clientVerifyCode != 0)
        #expect(server.clientCertificate?.subject == "CN=alice,O=Rogue")
    }

    /// With ssl_crl, a revoked certificate is FAILED:certificate revoked; without the CRL it verifies.
    @Test func revokedClientCertificate() throws {
        let (server, client) = try tlsConnected(server: try Self.verifyingSet(crl: true), client: try Self.client("revoked-client"))
        #expect(server.clientVerify == "FAILED:certificate revoked")
        server.close(); client.close()
        let (s2, c2) = try tlsConnected(server: try Self.verifyingSet(crl: true), client: try Self.client("client"))
        #expect(s2.clientVerify == "SUCCESS")
        s2.close(); c2.close()
    }

    /// `ssl_verify_client on` with no certificate given still completes the handshake; the verdict is NONE.
    @Test func noClientCertificate() throws {
        for mode in [SSLVerifyClient.on, .optional, .optionalNoCA] {
            let (server, client) = try tlsConnected(server: try Self.verifyingSet(mode), client: try tlsClient())
            #expect(server.clientVerify == "NONE" && server.clientCertificate == nil)
            server.close(); client.close()
        }
    }

    /// ssl_trusted_certificate alone verifies the client too (without sending CA names).
    @Test func trustedCertificateOnly() throws {
        let set = try tlsContextSet(tlsServerSettings { $0.verifyClient = .optional; $0.trustedCertificate = TLSTestCerts.path("ca.pem") })
        let (server, client) = try tlsConnected(server: set, client: try Self.client("client"))
        #expect(server.clientVerify == "SUCCESS")
        server.close(); client.close()
    }

    /// ssl_verify_client on without a CA file is a configuration error.
    @Test func verifyWithoutCA() {
        #expect(throws: TLSError.self) { _ = try TLSServerContext(settings: tlsServerSettings { $0.verifyClient = .on }) }
    }
}

@Suite struct TLSClientCertificateCheckTests {
    static func check(_ mode: SSLVerifyClient, client: String?) throws -> TLSClientCertificateCheck {
        let set = try tlsContextSet(tlsServerSettings { $0.verifyClient = mode; $0.clientCertificate = TLSTestCerts.path("ca.pem") })
        let c = try client.map { try TLSClientCertificateTests.client($0) } ?? tlsClient()
        let (server, cl) = try tlsConnected(server: set, client: c)
        defer { server.close(); cl.close() }
        return server.checkClientCertificate(mode)
    }

    /// nginx's mail decisions: on needs a good certificate, optional accepts none, optional_no_ca accepts an unknown issuer.
    @Test func decisions() throws {
        #expect(try Self.check(.on, client: "client") == .accepted)
        #expect(try Self.check(.on, client: nil) == .noCertificate)
        #expect(try Self.check(.optional, client: nil) == .accepted)
        #expect(try Self.check(.optional, client: "rogue-client") == .verifyError(code: 21, message: "unable to verify the first certificate"))
        #expect(try Self.check(.optionalNoCA, client: "rogue-client") == .accepted)
        #expect(try Self.check(.off, client: "rogue-client") == .accepted)
    }

    /// A rejected client's session is removed from the cache and does not resume.
    @Test func rejectedSessionNotResumed() throws {
        let set = try tlsContextSet(tlsServerSettings {
            $0.verifyClient = .on; $0.clientCertificate = TLSTestCerts.path("ca.pem")
            $0.sessionCache = .caches(builtin: 100, sharedName: nil, sharedSize: nil); $0.sessionTickets = false
        })
        let client = try tlsClient { $0.protocols = ["TLSv1.2"] }
        let (s1, c1) = try tlsConnected(server: set, client: client)
        #expect(s1.checkClientCertificate(.on) == .noCertificate)
        let session = c1.session
        s1.close(); c1.close()
        let (s2, c2) = try tlsConnected(server: set, client: client, session: session)
        #expect(!s2.sessionReused)
        s2.close(); c2.close()
    }
}
