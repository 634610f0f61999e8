import Glibc

/// A point on the monotonic clock by which an operation must finish. Every
/// blocking read, write and connect of a session takes one, so no session
/// waits longer than its configured timeout (nginx `timeout`, `proxy_timeout`).
public struct Deadline: Sendable, Comparable {
    /// Nanoseconds on CLOCK_MONOTONIC; `Int64.max` means never.
    public let nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static var now: Deadline { Deadline(nanoseconds: monotonicNanoseconds()) }
    public static let never = Deadline(nanoseconds: .max)

    public static func after(millis: Int) -> Deadline {
        Deadline(nanoseconds: monotonicNanoseconds() &+ Int64(millis) * 1_000_000)
    }

    public var hasPassed: Bool { self != .never && monotonicNanoseconds() >= nanoseconds }

    /// Milliseconds left, rounded up, for poll(2): -1 for never, 0 once passed.
    public var remainingMillisForPoll: Int32 {
        if self == .never { return -1 }
        let left = nanoseconds - monotonicNanoseconds()
        if left <= 0 { return 0 }
        return Int32(min((left + 999_999) / 1_000_000, Int64(Int32.max)))
    }

    public static func < (a: Deadline, b: Deadline) -> Bool { a.nanoseconds < b.nanoseconds }
}

/// CLOCK_MONOTONIC in nanoseconds: immune to wall-clock steps.
public func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Sleeps the calling thread (bounded waits in drain loops and tests).
public func sleepMillis(_ millis: Int) {
    var request = timespec(tv_sec: millis / 1000, tv_nsec: (millis % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
