import Dispatch
import Synchronization

/// A fixed number of session threads and a bounded queue in front of them.
///
/// `submit` never blocks and returns false when every thread is busy and the
/// queue is full: the caller answers with its protocol's temporary failure and
/// closes, so overload never grows threads or memory without bound.
///
/// Each worker thread makes its own `WorkerState` once, on that thread, with
/// `makeState`, and every job it runs gets that state `inout` (e.g. a reused
/// auth_http handle for keep-alive, a per-thread SQLite connection). The state
/// never leaves its thread, so it need not be Sendable.
///
/// Idle workers wait last-in, first-out, each on a semaphore of its own: a new
/// job wakes the worker that went idle last, whose stack, auth connection and
/// SQLite pages are still in the CPU's caches. A shared semaphore woke them in
/// turn, so at low concurrency every login ran on a cold thread.
public final class SessionPool<WorkerState>: Sendable {
    public typealias Job = @Sendable (inout WorkerState) -> Void

    private enum Work: Sendable {
        case run(Job)
        case exit
    }

    private struct State {
        var queue: [Work] = []
        var head = 0
        var queued = 0
        var busy = 0
        var accepting = true
        var threads: [ThreadHandle] = []
        /// Workers waiting for a job, the one that went idle last at the end.
        var idle: [Int] = []

        mutating func pop() -> Work {
            let work = queue[head]
            head += 1
            // Compact now and then so the array does not grow forever.
            if head > 64 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return work
        }
    }

    public let threadCount: Int
    public let queueCapacity: Int
    private let state = Mutex(State())
    /// One per worker: signalled when that worker is taken off the idle stack.
    private let wakeups: [DispatchSemaphore]

    /// Starts `threads` workers; each calls `makeState` once before its first job.
    public init(threads: Int, queueCapacity: Int, stackSize: Int = 512 * 1024, name: String = "postern-session",
                makeState: @escaping @Sendable () -> WorkerState) {
        precondition(threads > 0 && queueCapacity >= 0)
        self.threadCount = threads
        self.queueCapacity = queueCapacity
        wakeups = (0..<threads).map { _ in DispatchSemaphore(value: 0) }
        var handles: [ThreadHandle] = []
        for index in 0..<threads {
            handles.append(startThread(name: name, stackSize: stackSize) { [self] in
                var workerState = makeState()
                work(index, &workerState)
            })
        }
        state.withLock { $0.threads = handles }
    }

    /// Queues a job; false when threads and queue are all taken or the pool is stopping.
    public func submit(_ job: @escaping Job) -> Bool {
        let (accepted, wake) = state.withLock { s -> (Bool, Int?) in
            guard s.accepting, s.busy + s.queued < threadCount + queueCapacity else { return (false, nil) }
            s.queue.append(.run(job))
            s.queued += 1
            return (true, s.idle.popLast())
        }
        if let wake { wakeups[wake].signal() }
        return accepted
    }

    /// Jobs running now.
    public var busy: Int { state.withLock { $0.busy } }
    /// Jobs waiting for a thread.
    public var queued: Int { state.withLock { $0.queued } }
    public var counts: (busy: Int, queued: Int) { state.withLock { ($0.busy, $0.queued) } }
    /// Workers waiting for a job.
    var idleWorkers: Int { state.withLock { $0.idle.count } }

    /// Refuses new jobs from now on (QUIT: listeners are closed, sessions finish).
    public func stopAccepting() { state.withLock { $0.accepting = false } }

    /// Waits until no job is queued or running, or the deadline passes; true if drained.
    public func drain(until deadline: Deadline) -> Bool {
        while true {
            let (b, q) = counts
            if b == 0 && q == 0 { return true }
            if deadline.hasPassed { return false }
            sleepMillis(5)
        }
    }

    /// Stops the threads after the jobs already queued (or, with
    /// `discardQueued`, drops those jobs; their captured sockets close as they
    /// are released) and joins them. Running jobs are not interrupted: a fast
    /// stop closes their sockets first so they return.
    /// Returns how many queued jobs were discarded.
    @discardableResult
    public func stop(discardQueued: Bool = false) -> Int {
        let (threads, dropped, idle): ([ThreadHandle], [Work], [Int]) = state.withLock { s in
            s.accepting = false
            var dropped: [Work] = []
            if discardQueued {
                dropped = Array(s.queue[s.head...])
                s.queue = []
                s.head = 0
                s.queued = 0
            }
            for _ in 0..<s.threads.count { s.queue.append(.exit) }
            let t = s.threads
            s.threads = []
            defer { s.idle = [] }
            return (t, dropped, s.idle)
        }
        // Idle workers are woken to take their exit; busy ones find it when
        // their job ends. Each worker takes exactly one exit.
        let discardedCount = dropped.count
        for index in idle { wakeups[index].signal() }
        for t in threads { t.join() }
        return discardedCount
    }

    private func work(_ index: Int, _ workerState: inout WorkerState) {
        while true {
            let work = state.withLock { s -> Work? in
                guard s.head < s.queue.count else {
                    s.idle.append(index)
                    return nil
                }
                let w = s.pop()
                if case .run = w { s.queued -= 1; s.busy += 1 }
                return w
            }
            switch work {
            case .run(let job)?:
                job(&workerState)
                state.withLock { $0.busy -= 1 }
            case .exit?:
                return
            case nil:
                // Whoever takes this worker off the idle stack signals it once.
                wakeups[index].wait()
            }
        }
    }
}
