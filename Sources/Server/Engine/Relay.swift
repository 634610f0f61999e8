import Glibc
import Synchronization

/// Live numbers of the relay engine.
public struct RelaySnapshot: Sendable, Equatable {
    public var livePairs: Int
    /// Buffers held by pairs right now (idle pairs hold none).
    public var buffersInUse: Int
    /// Bytes read from one side and not yet written to the other.
    public var bufferedBytes: Int
}

/// The relay engine: a few threads, each running a poll(2) loop over many
/// logged-in sessions, so idle IMAP IDLE connections hold no session thread.
///
/// A session thread hands a pair over with `add`; the least loaded relay thread
/// takes it, is woken through its pipe, and from then on owns and closes both
/// endpoints. `onClose` runs on the relay thread: keep it short (a log line).
public final class RelayEngine: Sendable {
    private let threads: [RelayThread]
    private let counters = RelayCounters()
    private let handles: Mutex<[ThreadHandle]>
    private let stopped = Atomic<Bool>(false)

    public init(threads count: Int = 2, stackSize: Int = 256 * 1024) throws(Errno) {
        var made: [RelayThread] = []
        for i in 0..<max(1, count) { made.append(try RelayThread(index: i, counters: counters)) }
        threads = made
        handles = Mutex(made.map { t in startThread(name: "postern-relay\(t.index)", stackSize: stackSize) { t.run() } })
    }

    /// Hands a logged-in pair to a relay thread. The caller must not touch the
    /// endpoints afterwards. After `stop()`, the pair is closed at once with `.stopped`.
    public func add(client: any RelayEndpoint, backend: any RelayEndpoint, options: RelayOptions = RelayOptions(),
                    onClose: @escaping @Sendable (RelayStats) -> Void) {
        hand(makePair(client: client, backend: backend, options: options, onClose: onClose))
    }

    /// `add`, but the calling thread (a session thread) first relays the pair
    /// itself for up to `options.lingerMillis`, with `local`'s buffers. A pair
    /// that ends in that time (a LOGIN followed by LOGOUT) never costs a
    /// relay thread a wake-up; one still open is handed over when the linger
    /// ends, so idle sessions still hold no session thread.
    public func add(client: any RelayEndpoint, backend: any RelayEndpoint, options: RelayOptions, local: RelayLocal,
                    onClose: @escaping @Sendable (RelayStats) -> Void) {
        let pair = makePair(client: client, backend: backend, options: options, onClose: onClose)
        if options.lingerMillis > 0 && !stopped.load(ordering: .acquiring)
            && !local.linger(pair, millis: options.lingerMillis, counters: counters) {
            return  // ended while lingering, and reported
        }
        hand(pair)
    }

    private func makePair(client: any RelayEndpoint, backend: any RelayEndpoint, options: RelayOptions,
                          onClose: @escaping @Sendable (RelayStats) -> Void) -> RelayPair {
        counters.livePairs.add(1, ordering: .relaxed)
        return RelayPair(client: client, backend: backend, options: options, onClose: onClose,
                         now: monotonicNanoseconds())
    }

    /// Gives a pair to the least loaded relay thread; after `stop()` it is
    /// closed at once with `.stopped`.
    private func hand(_ pair: RelayPair) {
        let target = threads.min { $0.load.load(ordering: .relaxed) < $1.load.load(ordering: .relaxed) }!
        if stopped.load(ordering: .acquiring) || !target.enqueue(pair: pair) {
            pair.finish(reason: .stopped, pool: RelayBufferPool(sparesPerSize: 0), counters: counters,
                        now: monotonicNanoseconds())
        }
    }

    public var livePairs: Int { counters.livePairs.load(ordering: .relaxed) }

    public var snapshot: RelaySnapshot {
        RelaySnapshot(livePairs: counters.livePairs.load(ordering: .relaxed),
                      buffersInUse: counters.buffersInUse.load(ordering: .relaxed),
                      bufferedBytes: counters.bufferedBytes.load(ordering: .relaxed))
    }

    /// Fast stop: every pair is closed with `.stopped` (the threads keep running).
    public func closeAll() {
        for t in threads { t.request { $0.closeAll = true } }
    }

    /// Graceful stop (QUIT): waits until every pair ended by itself or the deadline passed.
    public func waitUntilEmpty(until deadline: Deadline) -> Bool {
        while livePairs > 0 {
            if deadline.hasPassed { return false }
            sleepMillis(5)
        }
        return true
    }

    /// Closes every pair and joins the threads.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        for t in threads { t.request { $0.closeAll = true; $0.exit = true } }
        let joined = handles.withLock { h -> [ThreadHandle] in defer { h = [] }; return h }
        for h in joined { h.join() }
    }
}

/// One relay thread's mailbox and loop.
final class RelayThread: Sendable {
    struct Inbox {
        /// Pairs from session threads (some relayed there for a while first).
        var pairs: [RelayPair] = []
        var closeAll = false
        var exit = false
    }

    let index: Int
    let load = Atomic<Int>(0)
    private let inbox = Mutex(Inbox())
    private let wake: WakePipe
    private let counters: RelayCounters

    init(index: Int, counters: RelayCounters) throws(Errno) {
        self.index = index
        self.counters = counters
        self.wake = try WakePipe()
    }

    /// false when the thread is exiting and will not take the pair.
    func enqueue(pair: RelayPair) -> Bool {
        let ok = inbox.withLock { i -> Bool in
            guard !i.exit else { return false }
            i.pairs.append(pair)
            return true
        }
        if ok { load.add(1, ordering: .relaxed); wake.wake() }
        return ok
    }

    func request(_ change: (inout Inbox) -> Void) {
        inbox.withLock { change(&$0) }
        wake.wake()
    }

    func run() {
        let pool = RelayBufferPool()
        var pairs: [RelayPair] = []
        var fds: [pollfd] = []
        while true {
            let taken = inbox.withLock { i -> Inbox in defer { i.pairs = []; i.closeAll = false }; return i }
            var now = monotonicNanoseconds()
            pairs.append(contentsOf: taken.pairs)
            if taken.closeAll {
                for p in pairs { p.finish(reason: .stopped, pool: pool, counters: counters, now: now) }
                load.subtract(pairs.count, ordering: .relaxed)
                pairs.removeAll()
            }
            if taken.exit { return }

            // Build the poll set: the wake pipe, then client and backend of each pair.
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0))
            var timeout: Int64 = -1
            for p in pairs {
                let (ce, be) = p.pollEvents()
                // A side with no interest is left out entirely (fd -1): a socket
                // whose peer hung up would otherwise report POLLHUP on every
                // round while its data waits for buffer room.
                fds.append(pollfd(fd: ce == 0 ? -1 : p.client.fd, events: ce, revents: 0))
                fds.append(pollfd(fd: be == 0 ? -1 : p.backend.fd, events: be, revents: 0))
                let left = p.hasBufferedInput ? 0 : max(0, p.idleDeadline - now)
                timeout = timeout < 0 ? left : min(timeout, left)
            }
            let millis = timeout < 0 ? Int32(-1) : Int32(min((timeout + 999_999) / 1_000_000, Int64(Int32.max)))
            do throws(Errno) {
                _ = try sysPoll(&fds, timeoutMillis: millis)
            } catch {
                // EINVAL/ENOMEM from poll: back off rather than spin.
                sleepMillis(10)
                continue
            }
            if fds[0].revents != 0 { wake.drain() }

            now = monotonicNanoseconds()
            var i = 0
            while i < pairs.count {
                let p = pairs[i]
                let ce = fds.count > 1 + 2 * i ? fds[1 + 2 * i].revents : 0
                let be = fds.count > 2 + 2 * i ? fds[2 + 2 * i].revents : 0
                if ce != 0 || be != 0 || p.hasBufferedInput {
                    p.service(clientEvents: ce, backendEvents: be, pool: pool, counters: counters, now: now)
                }
                if p.closeReason == nil && now >= p.idleDeadline { p.closeReason = .idleTimeout }
                i += 1
            }
            // Close finished pairs; order does not matter, so filter once.
            if pairs.contains(where: { $0.closeReason != nil }) {
                var kept: [RelayPair] = []
                kept.reserveCapacity(pairs.count)
                for p in pairs {
                    if let reason = p.closeReason {
                        p.finish(reason: reason, pool: pool, counters: counters, now: now)
                        load.subtract(1, ordering: .relaxed)
                    } else {
                        kept.append(p)
                    }
                }
                pairs = kept
            }
        }
    }
}

/// What a session thread keeps for relaying a pair itself right after the
/// login (`RelayEngine.add(..., local:)`): its own buffers and splice pipes,
/// reused session after session. Never shared between threads.
public final class RelayLocal {
    let pool = RelayBufferPool(sparesPerSize: 1)

    public init() {}

    /// Relays `pair` on this thread until it ends (false: finished and
    /// reported here) or `millis` passed (true: hand it over).
    func linger(_ pair: RelayPair, millis: Int, counters: RelayCounters) -> Bool {
        let handOverAt = monotonicNanoseconds() + Int64(millis) * 1_000_000
        var fds = [pollfd(fd: -1, events: 0, revents: 0), pollfd(fd: -1, events: 0, revents: 0)]
        // Bounded: each round either waits for the rest of the linger or moves bytes.
        while true {
            var now = monotonicNanoseconds()
            // Hand over even with bytes in flight: a slow reader of a big FETCH
            // must not keep a session thread. Buffers and pipes go along; the
            // relay thread's pool takes them back when they empty.
            if now >= handOverAt && !pair.hasBufferedInput { return true }
            let (ce, be) = pair.pollEvents()
            fds[0] = pollfd(fd: ce == 0 ? -1 : pair.client.fd, events: ce, revents: 0)
            fds[1] = pollfd(fd: be == 0 ? -1 : pair.backend.fd, events: be, revents: 0)
            var wait = max(0, min(handOverAt, pair.idleDeadline) - now)
            if pair.hasBufferedInput { wait = 0 }
            let millis = Int32(min((wait + 999_999) / 1_000_000, Int64(Int32.max)))
            do throws(Errno) {
                _ = try sysPoll(&fds, timeoutMillis: millis)
            } catch {
                return true  // let the relay thread deal with it
            }
            now = monotonicNanoseconds()
            if fds[0].revents != 0 || fds[1].revents != 0 || pair.hasBufferedInput {
                pair.service(clientEvents: fds[0].revents, backendEvents: fds[1].revents, pool: pool,
                             counters: counters, now: now)
            }
            if pair.closeReason == nil && now >= pair.idleDeadline { pair.closeReason = .idleTimeout }
            if let reason = pair.closeReason {
                pair.finish(reason: reason, pool: pool, counters: counters, now: now)
                return false
            }
        }
    }
}
