import Synchronization
import Testing
@testable import Server

@Suite struct TLSSessionResumptionTests {
    /// Connects, reads the server's greeting (which carries TLS 1.3 tickets to the client), returns the session and reuse flag.
    static func connectOnce(_ set: TLSServerContextSet, _ client: TLSClientContext, session: TLSSession?, protocols: [String]? = nil) throws -> (TLSSession?, Bool, Bool) {
        let (server, c) = try tlsConnected(server: set, client: client, session: session)
        defer { server.close(); c.close() }
        try server.writeAll(Array("+OK\r\n".utf8), deadline: .after(millis: 2000))
        _ = try c.readSome(max: 100, deadline: .after(millis: 2000))
        return (c.session, c.sessionReused, server.sessionReused)
    }

    static func secondIsReused(_ settings: SSLSettings, protocols: [String] = ["TLSv1.2", "TLSv1.3"]) throws -> Bool {
        let set = try tlsContextSet(settings)
        let client = try tlsClient { $0.protocols = protocols }
        let (session, firstReused, _) = try connectOnce(set, client, session: nil)
        #expect(!firstReused)
        let (_, clientSaw, serverSaw) = try connectOnce(set, client, session: session)
        #expect(clientSaw == serverSaw)
        return serverSaw
    }

    /// The builtin cache with tickets off resumes by session id (TLS 1.2) and by stateful ticket (TLS 1.3).
    @Test(arguments: [["TLSv1.2"], ["TLSv1.3"]])
    func builtinCacheResumes(protocols: [String]) throws {
        let settings = tlsServerSettings { $0.sessionCache = .caches(builtin: 1000, sharedName: nil, sharedSize: nil); $0.sessionTickets = false }
        #expect(try Self.secondIsReused(settings, protocols: protocols))
    }

    /// A shared:name:size cache (one in-process cache) resumes too.
    @Test func sharedCacheResumes() throws {
        let settings = tlsServerSettings { $0.sessionCache = .caches(builtin: nil, sharedName: "SSL", sharedSize: 1 << 20); $0.sessionTickets = false }
        #expect(try Self.secondIsReused(settings))
    }

    /// Tickets encrypted with ssl_session_ticket_key files (80 and 48 bytes) resume, with the cache off.
    @Test(arguments: ["ticket1.key", "ticket48.key"])
    func ticketKeysResume(file: String) throws {
        let settings = tlsServerSettings { $0.sessionCache = .off; $0.sessionTicketKeys = [TLSTestCerts.path(file)] }
        #expect(try Self.secondIsReused(settings, protocols: ["TLSv1.2"]))
        #expect(try Self.secondIsReused(settings, protocols: ["TLSv1.3"]))
    }

    /// A ticket from a context whose first key is now second (rotation) still resumes; an unknown key does not.
    @Test func ticketKeyRotation() throws {
        let client = try tlsClient()
        let old = try tlsContextSet(tlsServerSettings { $0.sessionCache = .off; $0.sessionTicketKeys = [TLSTestCerts.path("ticket1.key")] })
        let rotated = try tlsContextSet(tlsServerSettings { $0.sessionCache = .off; $0.sessionTicketKeys = [TLSTestCerts.path("ticket2.key"), TLSTestCerts.path("ticket1.key")] })
        let unknown = try tlsContextSet(tlsServerSettings { $0.sessionCache = .off; $0.sessionTicketKeys = [TLSTestCerts.path("ticket2.key")] })
        let (session, _, _) = try Self.connectOnce(old, client, session: nil)
        #expect(try Self.connectOnce(rotated, client, session: session).2)
        #expect(try !Self.connectOnce(unknown, client, session: session).2)
    }

    /// With ssl_session_cache off and tickets off nothing resumes.
    @Test func cacheOffTicketsOff() throws {
        let settings = tlsServerSettings { $0.sessionCache = .off; $0.sessionTickets = false }
        #expect(try !Self.secondIsReused(settings, protocols: ["TLSv1.2"]))
        #expect(try !Self.secondIsReused(settings, protocols: ["TLSv1.3"]))
    }

    /// nginx's default (`none`): nothing is stored, so without tickets a session id does not resume; with tickets it does.
    @Test func noneCache() throws {
        #expect(try !Self.secondIsReused(tlsServerSettings { $0.sessionCache = .none; $0.sessionTickets = false }, protocols: ["TLSv1.2"]))
        #expect(try Self.secondIsReused(tlsServerSettings { $0.sessionCache = .unset }))
    }

    /// A client-verified session resumes and keeps its verdict and certificate.
    @Test func verifiedSessionResumes() throws {
        let set = try tlsContextSet(tlsServerSettings {
            $0.verifyClient = .on; $0.clientCertificate = TLSTestCerts.path("ca.pem")
            $0.sessionCache = .caches(builtin: 100, sharedName: nil, sharedSize: nil)
        })
        let client = try tlsClient { $0.certificate = TLSTestCerts.path("client.pem"); $0.certificateKey = TLSTestCerts.path("client.key") }
        let (session, _, _) = try Self.connectOnce(set, client, session: nil)
        let (server, c) = try tlsConnected(server: set, client: client, session: session)
        defer { server.close(); c.close() }
        #expect(server.sessionReused)
        #expect(server.clientVerify == "SUCCESS")
        #expect(server.clientCertificate?.subject == "CN=alice,O=Postern Test")
    }

    /// A session older than ssl_session_timeout is not resumed.
    @Test func sessionTimeout() throws {
        let set = try tlsContextSet(tlsServerSettings { $0.sessionTimeoutSeconds = 1 })
        let client = try tlsClient()
        let (session, _, _) = try Self.connectOnce(set, client, session: nil)
        sleepMillis(2500)
        #expect(try !Self.connectOnce(set, client, session: session).2)
    }
}

@Suite struct TLSSessionSNITests {
    /// With SNI selecting a server without ticket keys, tickets still work (the default server's keys, as nginx) and resume.
    @Test func ticketsAcrossSNI() throws {
        let keyed = try TLSServerContext(settings: tlsServerSettings { $0.sessionCache = .off; $0.sessionTicketKeys = [TLSTestCerts.path("ticket1.key")] })
        let other = try TLSServerContext(settings: tlsServerSettings([("other.pem", "other.key")]) { $0.sessionCache = .off })
        let set = TLSServerContextSet(default: keyed, byName: [(name: "other.test", context: other)])
        for protocols in [["TLSv1.2"], ["TLSv1.3"]] {
            let client = try tlsClient { $0.protocols = protocols }
            let (s1, c1) = try tlsConnected(server: set, client: client, serverName: "other.test")
            try s1.writeAll(Array("hi".utf8), deadline: .after(millis: 2000))
            _ = try c1.readSome(max: 10, deadline: .after(millis: 2000))
            #expect(s1.selectedName == "other.test")
            let session = c1.session
            s1.close(); c1.close()
            let (s2, c2) = try tlsConnected(server: set, client: client, serverName: "other.test", session: session)
            #expect(s2.sessionReused && s2.selectedName == "other.test")
            s2.close(); c2.close()
        }
    }

    /// Many concurrent handshakes on one shared context and cache all complete.
    @Test func concurrentHandshakes() throws {
        let set = try tlsContextSet(tlsServerSettings { $0.sessionCache = .caches(builtin: 50, sharedName: nil, sharedSize: nil) })
        let client = try tlsClient()
        let ok = Atomic<Int>(0)
        let threads = (0..<8).map { i in
            startThread(name: "tls-many\(i)") {
                for _ in 0..<5 {
                    if let (s, c) = try? tlsConnected(server: set, client: client) {
                        if (try? c.writeAll([1, 2, 3], deadline: .after(millis: 5000))) != nil,
                           (try? s.readSome(max: 10, deadline: .after(millis: 5000))) == .bytes([1, 2, 3]) {
                            ok.add(1, ordering: .relaxed)
                        }
                        s.close(); c.close()
                    }
                }
            }
        }
        for t in threads { t.join() }
        #expect(ok.load(ordering: .relaxed) == 40)
    }
}
