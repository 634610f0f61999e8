import Foundation
import Testing
@testable import AuthCache

@Suite struct CacheGateTests {
    static let login = Array("alice".utf8)
    static let password = Array("pw".utf8)

    /// A non-cacheable method (APOP, CRAM-MD5, none) is never stored nor answered from the cache.
    @Test func nonCacheableNeverCached() throws {
        let f = try CacheFixture()
        var gate = AuthCacheGate(store: f.store, protocolName: "pop3", clientIP: "192.0.2.7")
        gate.accepted(cacheable: false, login: Self.login, password: Self.password, backend: backendA, authCacheTTL: nil)
        #expect(gate.before(cacheable: true, login: Self.login, password: Self.password) == .askAuthService)
        #expect(f.shared.counters.stored.load(ordering: .relaxed) == 0)
        gate.accepted(cacheable: true, login: Self.login, password: Self.password, backend: backendA, authCacheTTL: nil)
        #expect(gate.before(cacheable: false, login: Self.login, password: Self.password) == .askAuthService)
        #expect(!gate.fromCache)
    }

    /// A hit is marked fromCache; a backend refusal of a cached login removes it.
    @Test func backendRefusalForgets() throws {
        let f = try CacheFixture()
        var gate = AuthCacheGate(store: f.store, protocolName: "imap", clientIP: "192.0.2.7")
        gate.accepted(cacheable: true, login: Self.login, password: Self.password, backend: backendA, authCacheTTL: 60)
        #expect(gate.before(cacheable: true, login: Self.login, password: Self.password) == .hit(backendA))
        #expect(gate.fromCache)
        gate.backendRefused(login: Self.login)
        #expect(gate.before(cacheable: true, login: Self.login, password: Self.password) == .askAuthService)
    }

    /// A banned client is refused before the cache is consulted, even with the right password.
    @Test func banBeatsCache() throws {
        let f = try CacheFixture(throttle: ThrottlePolicy(maxFailures: 2, delayMillis: 5))
        var gate = AuthCacheGate(store: f.store, protocolName: "imap", clientIP: "192.0.2.7")
        gate.accepted(cacheable: true, login: Self.login, password: Self.password, backend: backendA, authCacheTTL: nil)
        var other = AuthCacheGate(store: f.store, protocolName: "imap", clientIP: "198.51.100.1")
        other.rejected(login: Array("x".utf8))
        other.rejected(login: Array("y".utf8))
        #expect(other.before(cacheable: true, login: Self.login, password: Self.password) == .refuse(delayMillis: 5))
        #expect(gate.before(cacheable: true, login: Self.login, password: Self.password) == .hit(backendA))
    }

    /// A database file created readable by others is tightened to 0600 when opened.
    @Test func existingFileIsTightened() throws {
        let dir = try CacheTestDirectory()
        FileManager.default.createFile(atPath: dir.path("cache.db"), contents: nil,
                                       attributes: [.posixPermissions: 0o644])
        let f = try CacheFixture(dir: dir)
        _ = f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7")
        let mode = try FileManager.default.attributesOfItem(atPath: f.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
