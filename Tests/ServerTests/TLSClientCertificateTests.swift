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
