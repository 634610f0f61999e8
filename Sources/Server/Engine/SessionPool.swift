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
/// Idle workers sleep in one `IdleWait`, which wakes them last-in, first-out:
/// a new job goes to the worker that went idle last, whose stack, auth
/// connection and SQLite pages are still in the CPU's caches. A shared
/// semaphore woke them in turn, so at low concurrency every login ran on a cold
/// thread. With `acceptDirectly`, the listeners sleep there too: an idle worker
/// takes a new connection itself, and the accept loop (which queues or refuses)
/// is needed only while no worker is idle.
public final class SessionPool<WorkerState>: Sendable {
    public typealias Job = @Sendable (inout WorkerState) -> Void
    /// Accepts one connection from the listener with this id and makes its job;
    /// nil when there was none (another worker or the accept loop took it).
    public typealias DirectAccept = @Sendable (_ listenerID: Int) -> Job?

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
        /// Workers asleep in `idle`.
        var waiting = 0
        var directAccept: DirectAccept?
        /// Called when the last idle worker wakes, and when one is idle again:
        /// the accept loop steps in and out.
        var idleChanged: (@Sendable () -> Void)?

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
    /// Where idle workers sleep; the accept loop registers its listeners here.
    let idle: IdleWait

    /// Starts `threads` workers; each calls `makeState` once before its first job.
    public init(threads: Int, queueCapacity: Int, stackSize: Int = 512 * 1024, name: String = "postern-session",
                makeState: @escaping @Sendable () -> WorkerState) throws(Errno) {
        precondition(threads > 0 && queueCapacity >= 0)
        self.threadCount = threads
        self.queueCapacity = queueCapacity
        idle = try IdleWait()
        var handles: [ThreadHandle] = []
        for _ in 0..<threads {
            handles.append(startThread(name: name, stackSize: stackSize) { [self] in
                var workerState = makeState()
                work(&workerState)
            })
        }
        state.withLock { $0.threads = handles }
    }

    /// Queues a job; false when threads and queue are all taken or the pool is stopping.
    public func submit(_ job: @escaping Job) -> Bool {
        let (accepted, wake) = state.withLock { s -> (Bool, Bool) in
            guard s.accepting, s.busy + s.queued < threadCount + queueCapacity else { return (false, false) }
            s.queue.append(.run(job))
            s.queued += 1
            return (true, s.waiting > 0)
        }
        if wake { idle.signalJobs() }
        return accepted
    }

    /// What an accept loop needs to let this pool's idle workers accept.
    public var directAcceptors: AcceptLoop.DirectAcceptors {
        AcceptLoop.DirectAcceptors(idle: idle, waiting: { [weak self] in self?.idleWorkers ?? 0 })
    }

    /// From now on idle workers also wait for connections on the listeners
    /// registered in `idle` and run them through `accept`; `idleChanged` runs
    /// each time the last idle worker wakes up and each time one is idle again.
    public func acceptDirectly(_ accept: @escaping DirectAccept, idleChanged: @escaping @Sendable () -> Void) {
        state.withLock {
            $0.directAccept = accept
            $0.idleChanged = idleChanged
        }
    }

    /// Jobs running now.
    public var busy: Int { state.withLock { $0.busy } }
    /// Jobs waiting for a thread.
    public var queued: Int { state.withLock { $0.queued } }
    public var counts: (busy: Int, queued: Int) { state.withLock { ($0.busy, $0.queued) } }
    /// Workers waiting for a job or a connection.
    public var idleWorkers: Int { state.withLock { $0.waiting } }

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
        let (threads, dropped): ([ThreadHandle], [Work]) = state.withLock { s in
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
            s.directAccept = nil
            s.idleChanged = nil
            return (t, dropped)
        }
        // Idle workers are woken to take their exit; busy ones find it when
        // their job ends. Each worker takes exactly one exit.
        let discardedCount = dropped.count
        idle.signalJobs(threads.count)
        for t in threads { t.join() }
        return discardedCount
    }

    private func work(_ workerState: inout WorkerState) {
        while true {
            let (work, firstIdle) = state.withLock { s -> (Work?, (@Sendable () -> Void)?) in
                guard s.head < s.queue.count else {
                    s.waiting += 1
                    return (nil, s.waiting == 1 ? s.idleChanged : nil)
                }
                let w = s.pop()
                if case .run = w { s.queued -= 1; s.busy += 1 }
                return (w, nil)
            }
            firstIdle?()
            switch work {
            case .run(let job)?:
                job(&workerState)
                state.withLock { $0.busy -= 1 }
            case .exit?:
                return
            case nil:
                // A job unit was counted for us, or a listener reported; either
                // way the queue is looked at again on the next turn.
                let event = idle.wait()
                let (accept, lastAwake) = state.withLock { s -> (DirectAccept?, (@Sendable () -> Void)?) in
                    s.waiting -= 1
                    var accept: DirectAccept?
                    if case .listener? = event, let direct = s.directAccept {
                        // Busy before the accept, so the accept loop never counts this worker as free.
                        s.busy += 1
                        accept = direct
                    }
                    return (accept, s.waiting == 0 ? s.idleChanged : nil)
                }
                guard case .listener(let id)? = event, let accept else {
                    lastAwake?()
                    continue
                }
                let job = accept(id)
                // Only now: told earlier, the accept loop would race this worker for its connection.
                lastAwake?()
                if let job { job(&workerState) }
                state.withLock { $0.busy -= 1 }
            }
        }
    }
}
