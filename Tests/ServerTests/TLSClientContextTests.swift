import Synchronization
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

    /// proxy_ssl_server_name off: the name is still verified but no SNI is sent.
    @Test func verifyWithoutSendingName() throws {
        let (a, b) = try Socket.pair()
        let box = Mutex<TLSStream?>(nil)
        let t = startThread(name: "tls-nosni") { box.withLock { $0 = try? TLSStream.accept(a, contexts: TLSClientContextTests.backend, deadline: .after(millis: 5000)) } }
        let client = try TLSStream.connect(b, context: try Self.verifying(), serverName: "localhost", sendServerName: false, deadline: .after(millis: 5000))
        t.join()
        let server = try #require(box.withLock { $0 })
        #expect(server.requestedServerName == nil && client.requestedServerName == nil)
        server.close(); client.close()
        let (c, d) = try Socket.pair()
        let t2 = startThread(name: "tls-nosni2") { _ = try? TLSStream.accept(c, contexts: TLSClientContextTests.backend, deadline: .after(millis: 5000)) }
        #expect(throws: TLSError.self) {
            _ = try TLSStream.connect(d, context: try Self.verifying(), serverName: "mail.test", sendServerName: false, deadline: .after(millis: 5000))
        }
        t2.join()
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
