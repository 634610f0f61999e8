import Glibc

/// Where idle session-pool workers sleep: one epoll instance shared by all of
/// them. It watches a job counter (an eventfd in semaphore mode: one unit per
/// queued job) and the listening sockets, each armed for one report at a time
/// (level-triggered, epoll would wake a second waiter for every report).
///
/// A new connection wakes one idle worker, which accepts it and runs the session
/// itself. Before, the accept thread woke and then woke a worker: two sleeps and
/// a hand-off between threads per login, each costly on a virtual CPU that had
/// gone idle. epoll wakes the waiter that came last, so the worker that went
/// idle last, its caches still warm, takes the next connection or job.
final class IdleWait: Sendable {
    enum Event: Equatable {
        /// A job was queued (or the pool stops): look at the queue.
        case job
        /// The listener with this id is readable; it stays disarmed until `rearm`.
        case listener(Int)
    }

    private let epollFD: Int32
    private let jobFD: Int32
    /// Token of the job counter; a listener's token is its id + 1.
    private static let jobToken: UInt64 = 0

    init() throws(Errno) {
        epollFD = try sysEpollCreate()
        do throws(Errno) {
            jobFD = try sysEventFDSemaphore()
        } catch {
            sysClose(epollFD)
            throw error
        }
        do throws(Errno) {
            try sysEpollArmOnce(epollFD, jobFD, token: Self.jobToken, add: true)
        } catch {
            sysClose(jobFD)
            sysClose(epollFD)
            throw error
        }
    }

    deinit {
        sysClose(jobFD)
        sysClose(epollFD)
    }

    /// Adds `count` units to the job counter, each waking one waiter.
    func signalJobs(_ count: Int = 1) {
        guard count > 0 else { return }
        var value = UInt64(count)
        // Fails only if the counter would overflow 2^64-2: not reachable.
        _ = try? withUnsafeBytes(of: &value) { b in Result { () throws(Errno) -> Int in try sysWrite(jobFD, b) } }.get()
    }

    /// Sleeps until a job unit or a listener report arrives. A job unit is
    /// taken; `nil` means another waiter took it first (or a failed wait).
    func wait() -> Event? {
        let token: UInt64?
        do throws(Errno) {
            token = try sysEpollWaitOne(epollFD, timeoutMillis: -1)
        } catch {
            return nil
        }
        guard let token else { return nil }
        if token != Self.jobToken { return .listener(Int(token - 1)) }
        var value: UInt64 = 0
        let n = (try? withUnsafeMutableBytes(of: &value) { b in
            Result { () throws(Errno) -> Int in try sysRead(jobFD, into: b) }
        }.get()) ?? 0
        // Units left over wake the next waiter as soon as the counter is armed again.
        try? sysEpollArmOnce(epollFD, jobFD, token: Self.jobToken, add: false)
        return n == 8 ? .job : nil
    }

    /// Watches a listener for one readable report.
    func addListener(fd: Int32, id: Int) throws(Errno) {
        try sysEpollArmOnce(epollFD, fd, token: UInt64(id) + 1, add: true)
    }

    /// Arms a listener again after its report was handled.
    func rearm(fd: Int32, id: Int) throws(Errno) {
        try sysEpollArmOnce(epollFD, fd, token: UInt64(id) + 1, add: false)
    }

    /// Stops watching a listener; call before it is closed.
    func removeListener(fd: Int32) {
        try? sysEpollForget(epollFD, fd)
    }
}
