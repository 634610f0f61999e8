import Foundation
import Glibc
import Synchronization
import Testing
@testable import Server

@Suite struct TLSHandshakeTests {
    /// A TLSv1.3 handshake completes and data flows both ways through readSome/writeAll.
    @Test func handshakeAndDataBothWays() throws {
        let (server, client) = try tlsConnected(server: try tlsContextSet(tlsServerSettings()), client: try tlsClient())
        defer { server.close(); client.close() }
        #expect(server.protocolVersion == "TLSv1.3" && client.protocolVersion == "TLSv1.3")
        #expect(server.cipherName.hasPrefix("TLS_"))
        #expect(!server.sessionReused)
        #expect(server.clientVerify == "NONE" && server.clientVerifyCode == -1 && server.clientCertificate == nil)
        try client.writeAll(Array("a1 LOGIN\r\n".utf8), deadline: .after(millis: 2000))
        #expect(try server.readSome(max: 100, deadline: .after(millis: 2000)) == .bytes(Array("a1 LOGIN\r\n".utf8)))
        try server.writeAll(Array("* OK\r\n".utf8), deadline: .after(millis: 2000))
        #expect(try client.readSome(max: 100, deadline: .after(millis: 2000)) == .bytes(Array("* OK\r\n".utf8)))
        client.shutdownWrite()
        #expect(try server.readSome(max: 100, deadline: .after(millis: 2000)) == .endOfStream)
    }

    /// STARTTLS: a plaintext exchange on the socket, then both ends upgrade the same descriptor.
    @Test func upgradeAfterPlaintext() throws {
        let (a, b) = try Socket.pair()
        try b.writeAll(Array(". STARTTLS\r\n".utf8), deadline: .after(millis: 1000))
        #expect(try a.readSome(max: 100, deadline: .after(millis: 1000)) == .bytes(Array(". STARTTLS\r\n".utf8)))
        try a.writeAll(Array(". OK Begin TLS\r\n".utf8), deadline: .after(millis: 1000))
        #expect(try b.readSome(max: 100, deadline: .after(millis: 1000)) == .bytes(Array(". OK Begin TLS\r\n".utf8)))
        let set = try tlsContextSet(tlsServerSettings())
        let box = Mutex<TLSStream?>(nil)
        let t = startThread(name: "tls-starttls") { box.withLock { $0 = try? TLSStream.accept(a, contexts: set, deadline: .after(millis: 5000)) } }
        let client = try TLSStream.connect(b, context: try tlsClient(), serverName: "mail.test", deadline: .after(millis: 5000))
        t.join()
        let server = try #require(box.withLock { $0 })
        defer { server.close(); client.close() }
        try client.writeAll(Array(". CAPABILITY\r\n".utf8), deadline: .after(millis: 1000))
        #expect(try server.readSome(max: 100, deadline: .after(millis: 1000)) == .bytes(Array(". CAPABILITY\r\n".utf8)))
    }

    /// One MiB written in one writeAll arrives intact through small non-blocking reads.
    @Test func megabyteThroughBlockingHelpers() throws {
        let (server, client) = try tlsConnected(server: try tlsContextSet(tlsServerSettings()), client: try tlsClient())
        defer { server.close(); client.close() }
        let payload = randomBytes(1 << 20)
        let writer = startThread(name: "tls-write") { [payload] in
            try? server.writeAll(payload, deadline: .after(millis: 20_000))
            server.shutdownWrite()
        }
        var got: [UInt8] = []
        let deadline = Deadline.after(millis: 20_000)
        loop: for _ in 0..<1_000_000 {
            switch try client.readSome(max: 3000, deadline: deadline) {
            case .bytes(let b): got += b
            case .endOfStream: break loop
            case .timedOut: break loop
            }
        }
        writer.join()
        #expect(got.count == payload.count && got == payload)
    }

    /// With an RSA and an ECDSA pair, a client offering only ECDSA suites gets the ECDSA certificate, an RSA-only client the RSA one.
    @Test func rsaAndECDSASelection() throws {
        let set = try tlsContextSet(tlsServerSettings([("mail-rsa.pem", "mail-rsa.key"), ("mail-ecdsa.pem", "mail-ecdsa.key")]))
        let ecdsa = try tlsClient { $0.protocols = ["TLSv1.2"]; $0.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256" }
        let (s1, c1) = try tlsConnected(server: set, client: ecdsa)
        #expect(c1.cipherName == "ECDHE-ECDSA-AES128-GCM-SHA256")
        #expect(c1.peerCertificate?.pem == (try String(contentsOfFile: TLSTestCerts.path("mail-ecdsa.pem"), encoding: .utf8)))
        s1.close(); c1.close()
        let rsa = try tlsClient { $0.protocols = ["TLSv1.2"]; $0.ciphers = "ECDHE-RSA-AES128-GCM-SHA256" }
        let (s2, c2) = try tlsConnected(server: set, client: rsa)
        #expect(c2.peerCertificate?.pem == (try String(contentsOfFile: TLSTestCerts.path("mail-rsa.pem"), encoding: .utf8)))
        s2.close(); c2.close()
    }

    /// A TLSv1.3 client restricted to ECDSA signature algorithms (openssl s_client) is served the ECDSA certificate.
    @Test func tls13SigalgsPickECDSA() throws {
        let set = try tlsContextSet(tlsServerSettings([("mail-rsa.pem", "mail-rsa.key"), ("mail-ecdsa.pem", "mail-ecdsa.key")]))
        let r = try sClient(set, ["-tls1_3", "-sigalgs", "ECDSA+SHA256", "-servername", "mail.test"])
        #expect(r.output.contains("Peer signature type: ECDSA"))
    }

    /// ALPN as nginx's mail module: the listener's protocol is chosen when offered, a list without it fails, no ALPN is fine.
    @Test func alpn() throws {
        let set = TLSServerContextSet(default: try TLSServerContext(settings: tlsServerSettings()), alpn: "imap")
        let offered = try sClient(set, ["-alpn", "http/1.1,imap"])
        #expect(offered.output.contains("ALPN protocol: imap"))
        let wrong = try sClient(set, ["-alpn", "pop3"])
        guard case .handshake(let reason)?? = wrong.server.map({ $0.failure }) else { Issue.record("\(String(describing: wrong.server))"); return }
        #expect(reason.contains("no application protocol"))
        let none = try sClient(set, [])
        #expect(none.output.contains("No ALPN negotiated"))
        guard case .success? = none.server else { Issue.record("\(String(describing: none.server))"); return }
    }

    /// SNI selects the matching context (other.test) and reports the configured name; an unknown name gets the default.
    @Test func sniSelectsContext() throws {
        let other = try TLSServerContext(settings: tlsServerSettings([("other.pem", "other.key")]))
        let set = TLSServerContextSet(default: try TLSServerContext(settings: tlsServerSettings()), byName: [(name: "other.test", context: other)])
        let (s1, c1) = try tlsConnected(server: set, client: try tlsClient(), serverName: "OTHER.test")
        #expect(s1.requestedServerName == "OTHER.test" && s1.selectedName == "other.test")
        #expect(c1.peerCertificate?.subject.contains("CN=other.test") == true)
        s1.close(); c1.close()
        let (s2, c2) = try tlsConnected(server: set, client: try tlsClient(), serverName: "unknown.test")
        #expect(s2.requestedServerName == "unknown.test" && s2.selectedName == nil)
        #expect(c2.peerCertificate?.subject.contains("CN=mail.test") == true)
        s2.close(); c2.close()
        let (s3, c3) = try tlsConnected(server: set, client: try tlsClient())
        #expect(s3.requestedServerName == nil && s3.selectedName == nil)
        s3.close(); c3.close()
    }

    /// server_name matching: exact beats wildcards, longest leading wildcard, ".name" matches the bare name, trailing wildcard last.
    @Test func serverNameMatcher() {
        let m = TLSServerNameMatcher(names: ["*.example.org", "*.mail.example.org", ".example.net", "mail.*", "www.example.org"])
        #expect(m.match("www.example.org") == 4)
        #expect(m.match("a.mail.example.org") == 1)
        #expect(m.match("x.y.example.org") == 0)
        #expect(m.match("example.net") == 2 && m.match("a.example.net") == 2)
        #expect(m.match("mail.foo") == 3)
        #expect(m.match("example.org") == nil && m.match("other") == nil)
    }

    /// A server limited to TLSv1.3 refuses a TLSv1.2-only client with a handshake error on both sides.
    @Test func protocolsRefuseOldClient() throws {
        let set = try tlsContextSet(tlsServerSettings { $0.protocols = ["TLSv1.3"] })
        let r = try tlsHandshake(server: set, client: try tlsClient { $0.protocols = ["TLSv1.2"] })
        guard case .handshake(let reason)? = r.server.failure else { Issue.record("server: \(r.server)"); return }
        #expect(reason.contains("protocol"))
        guard case .handshake? = r.client.failure else { Issue.record("client: \(r.client)"); return }
    }

    /// Garbage instead of a ClientHello fails the server handshake with `.handshake` well before the deadline.
    @Test func garbageClientHello() throws {
        let (a, b) = try Socket.pair()
        defer { b.close() }
        try b.writeAll(Array("GET / HTTP/1.0\r\n\r\n".utf8), deadline: .after(millis: 1000))
        let start = monotonicNanoseconds()
        #expect {
            _ = try TLSStream.accept(a, contexts: try tlsContextSet(tlsServerSettings()), deadline: .after(millis: 10_000))
        } throws: { error in
            if case TLSError.handshake = error { return true }
            return false
        }
        #expect(monotonicNanoseconds() - start < 5_000_000_000)
    }

    /// A peer that never sends a ClientHello costs the deadline, then `.timedOut`.
    @Test func silentPeerTimesOut() throws {
        let (a, b) = try Socket.pair()
        defer { b.close() }
        #expect(throws: TLSError.timedOut) {
            _ = try TLSStream.accept(a, contexts: try tlsContextSet(tlsServerSettings()), deadline: .after(millis: 200))
        }
    }

    /// A peer closing before the handshake ends gives `.closed`.
    @Test func peerClosesDuringHandshake() throws {
        let (a, b) = try Socket.pair()
        b.close()
        #expect(throws: TLSError.closed) {
            _ = try TLSStream.accept(a, contexts: try tlsContextSet(tlsServerSettings()), deadline: .after(millis: 2000))
        }
    }
}
