/// Slows password guessing per client network and per login. Pure: the
/// store loads a `FailureRecord`, asks the policy, and saves the result.
///
/// - Each failure within `windowSeconds` counts; at `maxFailures` the
///   subject is banned for `banSeconds`, doubling with each further ban up
///   to `maxBanSeconds`. While banned, attempts are refused after
///   `delayMillis` without asking the auth service, and still count, so a
///   guesser who keeps going earns the next, longer ban as soon as this
///   one ends.
/// - History is forgotten after `memorySeconds` without failures or bans.
public struct ThrottlePolicy: Sendable, Hashable {
    /// 0 turns the throttle off.
    public var maxFailures: Int
    public var windowSeconds: Int64
    public var banSeconds: Int64
    public var maxBanSeconds: Int64
    public var delayMillis: Int
    public var memorySeconds: Int64
    /// A login that succeeded from a network within this time is not banned
    /// there by failures of that login from other networks.
    public var ownerMemorySeconds: Int64

    public init(maxFailures: Int = 10, windowSeconds: Int64 = 600, banSeconds: Int64 = 60,
                maxBanSeconds: Int64 = 86_400, delayMillis: Int = 3000, memorySeconds: Int64 = 3600,
                ownerMemorySeconds: Int64 = 7 * 86_400) {
        self.maxFailures = maxFailures
        self.windowSeconds = max(windowSeconds, 1)
        self.banSeconds = max(banSeconds, 1)
        self.maxBanSeconds = max(maxBanSeconds, self.banSeconds)
        self.delayMillis = max(delayMillis, 0)
        self.memorySeconds = max(memorySeconds, self.windowSeconds)
        self.ownerMemorySeconds = ownerMemorySeconds
    }

    public var enabled: Bool { maxFailures > 0 }

    /// Ban length for the (bans+1)-th ban.
    public func banLength(afterBans bans: Int) -> Int64 {
        var length = banSeconds
        for _ in 0..<min(bans, 62) {
            length *= 2
            if length >= maxBanSeconds { return maxBanSeconds }
        }
        return min(length, maxBanSeconds)
    }

    public func isBanned(_ record: FailureRecord?, now: Int64) -> Bool {
        guard enabled, let record else { return false }
        return record.bannedUntil > now
    }

    /// The record after one more failure at `now`.
    public func afterFailure(_ old: FailureRecord?, now: Int64) -> FailureRecord {
        var r = old.map { isForgotten($0, now: now) ? FailureRecord(now: now) : $0 } ?? FailureRecord(now: now)
        if now - r.windowStart >= windowSeconds {
            r.failures = 0
            r.windowStart = now
        }
        r.failures += 1
        r.lastFailure = now
        if enabled && r.failures >= maxFailures && r.bannedUntil <= now {
            r.bannedUntil = now + banLength(afterBans: r.bans)
            r.bans += 1
            r.failures = 0
            r.windowStart = now
        }
        return r
    }

    /// True when nothing about the record matters any more.
    public func isForgotten(_ r: FailureRecord, now: Int64) -> Bool {
        max(r.lastFailure, r.bannedUntil) + memorySeconds <= now
    }
}

/// One row of `auth_failures`.
public struct FailureRecord: Sendable, Equatable {
    public var failures: Int
    public var windowStart: Int64
    public var lastFailure: Int64
    public var bans: Int
    public var bannedUntil: Int64

    public init(failures: Int = 0, windowStart: Int64, lastFailure: Int64, bans: Int = 0, bannedUntil: Int64 = 0) {
        self.failures = failures
        self.windowStart = windowStart
        self.lastFailure = lastFailure
        self.bans = bans
        self.bannedUntil = bannedUntil
    }

    init(now: Int64) { self.init(windowStart: now, lastFailure: now) }
}
