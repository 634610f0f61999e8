import Foundation
import Synchronization
import Testing
@testable import AuthCache

/// A settable clock for TTL tests.
final class CacheTestClock {
    var now: Int64 = 1_700_000_000
}

/// Collects the cache's log lines.
final class CacheLogLines: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var sink: @Sendable (CacheLogLevel, String) -> Void { { _, line in self.lines.withLock { $0.append(line) } } }
}

struct CacheFixture {
    let dir: CacheTestDirectory
    let clock = CacheTestClock()
    let logs = CacheLogLines()
    let shared: AuthCacheShared
    let store: AuthCacheStore

    init(throttle: ThrottlePolicy = ThrottlePolicy(), prefix: ClientPrefix = ClientPrefix(),
         dir: CacheTestDirectory? = nil, name: String = "cache.db") throws {
        self.dir = try dir ?? CacheTestDirectory()
        let settings = AuthCacheSettings(path: self.dir.path(name), ttlSeconds: 300, throttle: throttle,
                                         clientPrefix: prefix, retryAfterFaultSeconds: 10, busyTimeoutMillis: 50)
        shared = AuthCacheShared(settings: settings, log: logs.sink)
        let clock = self.clock
        store = AuthCacheStore(shared: shared, clock: { clock.now })
    }

    var path: String { shared.settings.path }

    func secondStore() -> AuthCacheStore {
        let clock = self.clock
        return AuthCacheStore(shared: shared, clock: { clock.now })
    }
}

let backendA = CachedBackend(host: "127.0.0.1", port: 1143, user: nil, password: nil)

@Suite struct CacheStoreTests {
    static let login = Array("alice@example.org".utf8)
    static let password = Array("correct horse".utf8)

    /// A stored login is a hit for the same protocol, login, password and address, and a miss before storing.
    @Test func hitAfterStore() throws {
        let f = try CacheFixture()
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .miss)
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .hit(backendA))
        #expect(f.shared.counters.hits.load(ordering: .relaxed) == 1)
        #expect(f.shared.counters.misses.load(ordering: .relaxed) == 1)
    }

    /// A hit writes nothing on the login path; the background flush adds the hits up in `cached_logins`.
    @Test func hitCountsAreWrittenByTheFlush() throws {
        let f = try CacheFixture()
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        for _ in 0..<3 {
            #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .hit(backendA))
        }
        let reader = try SQLiteConnection(path: f.path, busyTimeoutMillis: 1000, create: false)
        #expect(try reader.scalarInt("SELECT hits FROM cached_logins") == 0)
        AuthCacheMaintenance.flush(f.secondStore(), f.shared)
        reader.resetAll()
        #expect(try reader.scalarInt("SELECT hits FROM cached_logins") == 3)
        #expect(try reader.scalarInt("SELECT last_hit_at FROM cached_logins") == f.clock.now)
    }

    /// The throttle check and the lookup share one read transaction, which is over when the
    /// call returns: a write on the same connection right after it works, and a banned
    /// attempt is not looked up at all.
    @Test func checkBeforeLoginEndsItsTransaction() throws {
        let f = try CacheFixture(throttle: ThrottlePolicy(maxFailures: 2, delayMillis: 0))
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        let (allowed, found) = f.store.checkBeforeLogin(protocolName: "imap", login: Self.login, password: Self.password,
                                                        clientIP: "192.0.2.7", cacheable: true)
        #expect(allowed == .allow)
        #expect(found == .hit(backendA))
        for _ in 0..<3 { f.store.recordFailure(login: Self.login, clientIP: "192.0.2.7") }
        #expect(f.shared.counters.failuresRecorded.load(ordering: .relaxed) == 3)
        #expect(f.shared.counters.faults.load(ordering: .relaxed) == 0, "\(f.logs.all)")
        let (banned, notLooked) = f.store.checkBeforeLogin(protocolName: "imap", login: Self.login,
                                                           password: Self.password, clientIP: "192.0.2.7", cacheable: true)
        #expect(banned != .allow)
        #expect(notLooked == nil)
        #expect(f.shared.counters.hits.load(ordering: .relaxed) == 1)
        // Not cacheable (a challenge-response method): the throttle only.
        let (_, skipped) = f.store.checkBeforeLogin(protocolName: "imap", login: Array("bob".utf8), password: [],
                                                    clientIP: "198.51.100.1", cacheable: false)
        #expect(skipped == nil)
        f.store.recordFailure(login: Self.login, clientIP: "192.0.2.7")
        #expect(f.shared.counters.failuresRecorded.load(ordering: .relaxed) == 4)
        #expect(f.shared.counters.faults.load(ordering: .relaxed) == 0, "\(f.logs.all)")
    }

    /// An accepted login notes the owner's network and stores the answer in one
    /// transaction; not cacheable or TTL 0 notes the network only.
    @Test func recordAcceptedStoresAndNotesTogether() throws {
        let f = try CacheFixture()
        f.store.recordAccepted(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7",
                               cacheable: true, backend: backendA)
        f.store.recordAccepted(protocolName: "imap", login: Array("cram".utf8), password: [], clientIP: "192.0.2.8",
                               cacheable: false, backend: backendA)
        f.store.recordAccepted(protocolName: "imap", login: Array("ttl0".utf8), password: Self.password,
                               clientIP: "192.0.2.9", cacheable: true, backend: backendA, ttlSeconds: 0)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7")
                == .hit(backendA))
        let reader = try SQLiteConnection(path: f.path, busyTimeoutMillis: 1000, create: false)
        #expect(try reader.scalarInt("SELECT count(*) FROM cached_logins") == 1)
        #expect(try reader.scalarInt("SELECT count(*) FROM login_networks") == 3)
        #expect(f.shared.counters.stored.load(ordering: .relaxed) == 1)
        #expect(f.shared.counters.faults.load(ordering: .relaxed) == 0, "\(f.logs.all)")
    }

    /// A backend password that is the client's own is not stored (a hit has it already);
    /// the hit then carries none, and the session logs in with the client's password.
    @Test func backendPasswordEqualToClientsIsNotStored() throws {
        let f = try CacheFixture()
        let same = CachedBackend(host: "127.0.0.1", port: 1143, user: nil, password: Self.password)
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: same)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7")
                == .hit(backendA))
        let reader = try SQLiteConnection(path: f.path, busyTimeoutMillis: 1000, create: false)
        #expect(try reader.scalarInt("SELECT count(*) FROM cached_logins WHERE backend_pass IS NULL") == 1)
    }

    /// A different password, protocol or login never matches a stored entry.
    @Test func differentCredentialsMiss() throws {
        let f = try CacheFixture()
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Array("wrong".utf8), clientIP: "192.0.2.7") == .miss)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: [], clientIP: "192.0.2.7") == .miss)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password + [0x20], clientIP: "192.0.2.7") == .miss)
        #expect(f.store.lookup(protocolName: "pop3", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .miss)
        #expect(f.store.lookup(protocolName: "imap", login: Array("bob".utf8), password: Self.password, clientIP: "192.0.2.7") == .miss)
    }

    /// A NUL inside the password is part of the key: the prefix before the NUL does not match, nor the reverse.
    @Test func nulInPasswordDoesNotTruncate() throws {
        let f = try CacheFixture()
        let withNul = Array("secret".utf8) + [0] + Array("more".utf8)
        f.store.store(protocolName: "imap", login: Self.login, password: withNul, clientIP: "192.0.2.7", backend: backendA)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Array("secret".utf8), clientIP: "192.0.2.7") == .miss)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: withNul, clientIP: "192.0.2.7") == .hit(backendA))
        let loginWithNul = Array("alice".utf8) + [0] + Array("x".utf8)
        f.store.store(protocolName: "imap", login: loginWithNul, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        #expect(f.store.lookup(protocolName: "imap", login: Array("alice".utf8), password: Self.password, clientIP: "192.0.2.7") == .miss)
    }

    /// Another IPv4 address misses; another address in the same IPv6 /64 hits; another /64 misses.
    @Test func clientNetworkIsPartOfTheKey() throws {
        let f = try CacheFixture()
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.8") == .miss)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "::ffff:192.0.2.7") == .hit(backendA))
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "2001:db8:1:2::5", backend: backendA)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "2001:db8:1:2:ffff::9") == .hit(backendA))
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "2001:db8:1:3::5") == .miss)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "not-an-ip") == .miss)
    }

    /// A wider configured prefix lets a neighbour address in the same IPv4 /24 hit.
    @Test func widerPrefix() throws {
        let f = try CacheFixture(prefix: ClientPrefix(v4Bits: 24, v6Bits: 48))
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.200") == .hit(backendA))
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.3.7") == .miss)
    }

    /// Network text: IPv4 /32, IPv6 /64 masked, mapped IPv4 as IPv4, garbage nil.
    @Test func networkText() {
        #expect(clientNetwork("192.0.2.7", prefix: ClientPrefix()) == "192.0.2.7/32")
        #expect(clientNetwork("192.0.2.7", prefix: ClientPrefix(v4Bits: 20, v6Bits: 64)) == "192.0.0.0/20")
        #expect(clientNetwork("2001:db8:1:2:3:4:5:6", prefix: ClientPrefix()) == "2001:db8:1:2::/64")
        #expect(clientNetwork("::ffff:10.1.2.3", prefix: ClientPrefix()) == "10.1.2.3/32")
        #expect(clientNetwork("unix:", prefix: ClientPrefix()) == nil)
    }

    /// An entry hits until its TTL passes, then misses, and the purge deletes it.
    @Test func ttlExpiry() throws {
        let f = try CacheFixture()
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        f.clock.now += 299
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .hit(backendA))
        f.clock.now += 1
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .miss)
        #expect(f.store.purgeExpired() == 1)
    }

    /// Auth-Cache-TTL overrides the configured TTL, and 0 stores nothing.
    @Test func authCacheTTLOverride() throws {
        let f = try CacheFixture()
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA, ttlSeconds: 0)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .miss)
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA, ttlSeconds: 10)
        f.clock.now += 10
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .miss)
    }

    /// Auth-User and Auth-Pass come back exactly; the backend password is not in the database file.
    @Test func backendCredentialsRoundTripEncrypted() throws {
        let f = try CacheFixture()
        let backendPass = Array("BACKEND-SECRET-9f8e7d".utf8) + [0, 0xff]
        let backend = CachedBackend(host: "::1", port: 143, user: Array("master*alice".utf8), password: backendPass)
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backend)
        #expect(f.store.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .hit(backend))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: f.path))
            + ((try? Data(contentsOf: URL(fileURLWithPath: f.path + "-wal"))) ?? Data())
        #expect(bytes.range(of: Data("BACKEND-SECRET".utf8)) == nil)
        #expect(bytes.range(of: Data("correct horse".utf8)) == nil)
    }

    /// The database, its key file and WAL are mode 0600; a second store (a restart) still hits.
    @Test func filesArePrivateAndSurviveRestart() throws {
        let f = try CacheFixture()
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        for p in [f.path, f.path + ".key"] {
            let mode = try FileManager.default.attributesOfItem(atPath: p)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(p)")
        }
        let restarted = f.secondStore()
        #expect(restarted.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .hit(backendA))
    }

    /// Without the key file the database gives no hit: a new key makes every verifier miss.
    @Test func newKeyInvalidatesEntries() throws {
        let f = try CacheFixture()
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        try FileManager.default.removeItem(atPath: f.path + ".key")
        let other = f.secondStore()
        #expect(other.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .miss)
    }

    /// Two connections (two worker threads) see each other's writes at once: no statement pins an old snapshot.
    @Test func connectionsSeeEachOthersWrites() throws {
        let f = try CacheFixture(throttle: ThrottlePolicy(maxFailures: 2, delayMillis: 0))
        let other = f.secondStore()
        f.store.store(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
        #expect(other.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .hit(backendA))
        f.store.recordFailure(login: Self.login, clientIP: "192.0.2.9")
        #expect(other.throttleCheck(login: Self.login, clientIP: "192.0.2.9") == .allow)
        f.store.recordFailure(login: Self.login, clientIP: "192.0.2.9")
        #expect(other.throttleCheck(login: Self.login, clientIP: "192.0.2.9") == .refuse(delayMillis: 0))
        f.store.forget(protocolName: "imap", login: Self.login, clientIP: "192.0.2.7")
        #expect(other.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7") == .miss)
    }

    /// The ledger writes rows with readable times in recent_sessions, and retention purges them.
    @Test func ledgerWriteAndPurge() throws {
        let f = try CacheFixture()
        let now = Double(f.clock.now)
        let entry = LedgerEntry(startedAt: now - 5, endedAt: now, clientAddress: "192.0.2.7", clientPort: 50000,
                                protocolName: "imap", login: "alice", fromCache: true, backend: "127.0.0.1:143",
                                tlsVersion: nil, bytesIn: 10, bytesOut: 20, outcome: "proxied", reason: "client-closed")
        #expect(f.store.writeLedger([entry, entry]))
        let db = try SQLiteConnection(path: f.path, busyTimeoutMillis: 1000)
        #expect(try db.scalarInt("SELECT count(*) FROM sessions WHERE from_cache = 1 AND bytes_out = 20") == 2)
        f.clock.now += 31 * 86_400
        #expect(f.store.purgeExpired() == 2)
    }

    /// The maintenance thread writes queued sessions within about a second, without the caller waiting.
    @Test func maintenanceFlushesQueue() throws {
        let f = try CacheFixture()
        let m = AuthCacheMaintenance(shared: f.shared)
        m.start()
        f.shared.enqueue(LedgerEntry(startedAt: 1, endedAt: 2, clientAddress: "192.0.2.7", clientPort: nil,
                                     protocolName: "imap", login: nil, fromCache: false, backend: nil, tlsVersion: nil,
                                     bytesIn: 0, bytesOut: 0, outcome: "rejected", reason: nil))
        var written: UInt64 = 0
        for _ in 0..<50 where written == 0 {
            usleep(100_000)
            written = f.shared.counters.ledgerWritten.load(ordering: .relaxed)
        }
        m.stop()
        #expect(written == 1)
    }
}
