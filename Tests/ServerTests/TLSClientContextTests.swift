import Testing
@testable import Server

@Suite struct TLSClientContextTests {
    static let backend = TLSServerContextSet(default: try! TLSServerContext(settings: tlsServerSettings([("backend.pem", "backend.key")])))

    static func verifying(_ ca: String = "ca.pem") throws -> TLSClientContext {
        try tlsClient { $0.verify = true; $0.trustedCertificate = TLSTestCerts.path(ca); $0.verifyDepth = 2 }
    }

    /// With verification on, the backend's chain and the name localhost (or 127.0.0.1) verify; SNI is sent for names only.
    @Test func verifiesNameAndIP() throws {
        let (s1, c1) = try tlsConnected(server: Self.backend, client: try Self.verifying(), serverName: "localhost")
        #expect(s1.requestedServerName == "localhost")
        s1.close(); c1.close()
        let (s2, c2) = try tlsConnected(server: Self.backend, client: try Self.verifying(), serverName: "127.0.0.1")
        #expect(s2.requestedServerName == nil)
        s2.close(); c2.close()
    }

    /// A name the certificate does not carry fails the handshake with the reason.
    @Test func wrongNameFails() throws {
        let r = try tlsHandshake(server: Self.backend, client: try Self.verifying(), serverName: "mail.test")
        guard case .handshake(let reason)? = r.client.failure else { Issue.record("\(r.client)"); return }
        #expect(reason.contains("certificate verify failed") && reason.contains("mismatch"))
    }

    /// A backend certificate from a CA the proxy does not trust fails.
    @Test func untrustedCAFails() throws {
        let r = try tlsHandshake(server: Self.backend, client: try Self.verifying("rogue-ca.pem"), serverName: "localhost")
        guard case .handshake(let reason)? = r.client.failure else { Issue.record("\(r.client)"); return }
        #expect(reason.contains("certificate verify failed"))
    }

    /// Without verification any certificate and name are accepted.
    @Test func noVerification() throws {
        let (s, c) = try tlsConnected(server: Self.backend, client: try tlsClient(), serverName: "whatever.example")
        #expect(c.peerCertificate?.subject.contains("CN=localhost") == true)
        s.close(); c.close()
    }

    /// Verification without a trusted certificate file is a config error.
    @Test func verifyNeedsTrustedCertificate() {
        #expect(throws: TLSError.self) { _ = try tlsClient { $0.verify = true } }
    }
}
