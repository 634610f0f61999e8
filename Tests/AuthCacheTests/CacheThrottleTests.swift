import Testing
@testable import AuthCache

@Suite struct CacheThrottleTests {
    static let policy = ThrottlePolicy(maxFailures: 3, windowSeconds: 60, banSeconds: 10, maxBanSeconds: 100,
                                       delayMillis: 0, memorySeconds: 1000)

    /// Ban lengths double from the first ban and stop at the maximum.
    @Test func banLengthsDoubleUpToCap() {
        #expect((0..<6).map { Self.policy.banLength(afterBans: $0) } == [10, 20, 40, 80, 100, 100])
        #expect(Self.policy.banLength(afterBans: 500) == 100)
    }

    /// The limit-th failure within the window bans; fewer do not.
    @Test func banAtLimit() {
        var r: FailureRecord? = nil
        for t in 0..<2 { r = Self.policy.afterFailure(r, now: 1000 + Int64(t)) }
        #expect(!Self.policy.isBanned(r, now: 1002))
        r = Self.policy.afterFailure(r, now: 1002)
        #expect(Self.policy.isBanned(r, now: 1002))
        #expect(r?.bannedUntil == 1012)
        #expect(!Self.policy.isBanned(r, now: 1012))
    }

    /// Failures spread wider than the window never ban.
    @Test func windowResets() {
        var r: FailureRecord? = nil
        for t in 0..<10 { r = Self.policy.afterFailure(r, now: 1000 + Int64(t) * 31) }
        #expect(r?.bans == 0)
    }

    /// A guesser who keeps failing during a ban earns a doubled ban as soon as it ends.
    @Test func persistentGuesserGetsLongerBans() {
        var r: FailureRecord? = nil
        var now: Int64 = 1000
        for _ in 0..<3 { r = Self.policy.afterFailure(r, now: now) }
        #expect(r?.bannedUntil == 1010)
        for _ in 0..<3 { now += 1; r = Self.policy.afterFailure(r, now: now) }   // during the ban
        now = 1010
        r = Self.policy.afterFailure(r, now: now)
        #expect(r?.bans == 2)
        #expect(r?.bannedUntil == 1030)
    }

    /// History is forgotten after the memory time: the next ban starts short again.
    @Test func historyForgotten() {
        let old = FailureRecord(failures: 0, windowStart: 0, lastFailure: 0, bans: 5, bannedUntil: 100)
        let r = Self.policy.afterFailure(old, now: 2000)
        #expect(r.bans == 0 && r.failures == 1)
    }

    /// maxFailures 0 disables the throttle.
    @Test func disabled() {
        let off = ThrottlePolicy(maxFailures: 0)
        var r: FailureRecord? = nil
        for t in 0..<100 { r = off.afterFailure(r, now: Int64(t)) }
        #expect(!off.isBanned(r, now: 100))
    }

    /// Through the store: failures from one address ban that address for any login, not other addresses.
    @Test func addressBan() throws {
        let f = try CacheFixture(throttle: Self.policy)
        for i in 0..<3 { f.store.recordFailure(login: Array("user\(i)".utf8), clientIP: "198.51.100.1") }
        #expect(f.store.throttleCheck(login: Array("anyone".utf8), clientIP: "198.51.100.1") == .refuse(delayMillis: 0))
        #expect(f.store.throttleCheck(login: Array("anyone".utf8), clientIP: "198.51.100.2") == .allow)
        f.clock.now += 10
        #expect(f.store.throttleCheck(login: Array("anyone".utf8), clientIP: "198.51.100.1") == .allow)
    }

    /// Failures for one login from many addresses ban the login, but not for its owner's recent network.
    @Test func loginBanSparesOwner() throws {
        let f = try CacheFixture(throttle: Self.policy)
        let alice = Array("alice".utf8)
        f.store.recordAccepted(protocolName: "imap", login: alice, password: Array("pw".utf8), clientIP: "203.0.113.9",
                               cacheable: false, backend: backendA)
        for i in 0..<3 { f.store.recordFailure(login: alice, clientIP: "198.51.100.\(i)") }
        #expect(f.store.throttleCheck(login: alice, clientIP: "198.51.100.77") == .refuse(delayMillis: 0))
        #expect(f.store.throttleCheck(login: alice, clientIP: "203.0.113.9") == .allow)
        #expect(f.store.throttleCheck(login: Array("bob".utf8), clientIP: "198.51.100.77") == .allow)
        #expect(f.shared.counters.throttled.load(ordering: .relaxed) == 1)
    }

    /// IPv6 failures count per /64: addresses in the same /64 share a ban.
    @Test func ipv6SlashSixtyFour() throws {
        let f = try CacheFixture(throttle: Self.policy)
        for i in 1...3 { f.store.recordFailure(login: Array("u\(i)".utf8), clientIP: "2001:db8:5:6::\(i)") }
        #expect(f.store.throttleCheck(login: Array("x".utf8), clientIP: "2001:db8:5:6:abcd::1") == .refuse(delayMillis: 0))
        #expect(f.store.throttleCheck(login: Array("x".utf8), clientIP: "2001:db8:5:7::1") == .allow)
    }

    /// The current_bans view shows a ban with readable times.
    @Test func currentBansView() throws {
        let f = try CacheFixture(throttle: ThrottlePolicy(maxFailures: 1, banSeconds: 3600))
        f.clock.now = wallClockSeconds()
        f.store.recordFailure(login: Array("alice".utf8), clientIP: "198.51.100.1")
        let db = try SQLiteConnection(path: f.path, busyTimeoutMillis: 1000)
        let s = try db.statement("SELECT kind, subject, banned_until FROM current_bans ORDER BY kind")
        var rows: [String] = []
        while try s.step() { rows.append("\(s.text(0)!) \(s.text(1)!) \(s.text(2)!.count)") }
        #expect(rows == ["address 198.51.100.1/32 19", "login alice 19"])
    }
}
