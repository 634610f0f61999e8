import Glibc
import Synchronization

/// One thread that polls every listening socket and hands each accepted
/// connection to `handler` together with the id of the listener that took it.
/// The handler runs on the accept thread: it should only submit the connection
/// to the session pool (or answer "busy" and close) and return.
///
/// With `direct` (the session pool's idle workers), the listeners are also
/// registered where idle workers sleep, and a worker takes a connection itself
/// with `takeDirect`; the loop's thread then polls the listeners only while no
/// worker is idle, to queue connections or answer "busy".
///
/// Listeners can be added and removed while it runs (reload) and the loop can
/// be stopped (QUIT/TERM). On EMFILE/ENFILE it stops accepting for `pauseMillis`
/// and logs once per episode, as relayd does, rather than spinning on a
/// listener that stays readable.
public final class AcceptLoop: Sendable {
    public typealias Handler = @Sendable (_ connection: Socket, _ listenerID: Int) -> Void

    /// Idle session workers that accept for themselves.
    public struct DirectAcceptors: Sendable {
        let idle: IdleWait
        /// How many workers are idle now.
        let waiting: @Sendable () -> Int
    }

    private struct State {
        var listeners: [Int: Listener] = [:]
        var stopping = false
        var thread: ThreadHandle?
        /// A worker's accept ran out of descriptors: pause, and re-arm after.
        var directExhausted = false
    }

    private let state = Mutex(State())
    private let wake: WakePipe
    private let handler: Handler
    private let log: ErrorLog?
    private let pauseMillis: Int
    /// Connections taken per listener per wake-up, so one busy port cannot starve the others.
    private let batchSize = 32
    private let acceptedTotal = Atomic<Int>(0)
    private let pollingListeners = Atomic<Bool>(false)
    private let direct: DirectAcceptors?

    public init(log: ErrorLog?, pauseMillis: Int = 500, direct: DirectAcceptors? = nil,
                handler: @escaping Handler) throws(Errno) {
        self.wake = try WakePipe()
        self.handler = handler
        self.log = log
        self.pauseMillis = pauseMillis
        self.direct = direct
    }

    /// Connections handed to the handler so far.
    public var accepted: Int { acceptedTotal.load(ordering: .relaxed) }

    /// Starts accepting on `listener`; `id` must not be negative.
    public func add(_ listener: Listener, id: Int) {
        state.withLock { s in
            s.listeners[id] = listener
            do throws(Errno) {
                try direct?.idle.addListener(fd: listener.socket.fd, id: id)
            } catch {
                // The loop's own thread still accepts for it, through the queue.
                log?.log(.alert, "epoll_ctl() failed for \(listener.address)", error: error)
            }
        }
        wake.wake()
    }

    /// Stops polling the listener and returns it; the caller closes it after this returns.
    @discardableResult
    public func remove(id: Int) -> Listener? {
        let removed = state.withLock { s -> Listener? in
            let listener = s.listeners.removeValue(forKey: id)
            if let listener { direct?.idle.removeListener(fd: listener.socket.fd) }
            return listener
        }
        wake.wake()
        return removed
    }

    /// Wakes the loop's thread to look again whether any worker is idle: the
    /// listeners need the loop only while none is.
    public func idleWorkersChanged() { wake.wake() }

    /// Whether the loop's thread polls the listeners itself now (tests).
    var pollsListeners: Bool { pollingListeners.load(ordering: .relaxed) }

    /// An idle worker's turn at the listener `id` that woke it: one
    /// connection, or nil when another took it first or the listener is gone.
    /// Runs under the lock, so a listener removed (and then closed) is never
    /// accepted from.
    public func takeDirect(listenerID id: Int) -> Socket? {
        guard let direct else { return nil }
        return state.withLock { s -> Socket? in
            guard !s.stopping, let listener = s.listeners[id] else { return nil }
            let fd = listener.socket.fd
            var storage = sockaddr_storage()
            var length = socklen_t(0)
            do throws(Errno) {
                let connection = try sysAccept4(fd, storage: &storage, length: &length, flags: cnetSockFlags)
                acceptedTotal.add(1, ordering: .relaxed)
                // Re-armed at once: the next connection in the backlog wakes the next idle worker.
                try? direct.idle.rearm(fd: fd, id: id)
                return Socket(adopting: connection, nonBlocking: true, peer: SocketAddress(storage: storage, length: length))
            } catch {
                if case .exhausted = failure(error, on: listener) {
                    // Left disarmed; the loop's thread logs, pauses and re-arms.
                    s.directExhausted = true
                    wake.wake()
                } else {
                    try? direct.idle.rearm(fd: fd, id: id)
                }
                return nil
            }
        }
    }

    public var listenerIDs: [Int] { state.withLock { Array($0.listeners.keys).sorted() } }

    public func start() {
        let handle = startThread(name: "postern-accept") { [self] in run() }
        state.withLock { $0.thread = handle }
    }

    /// Stops the loop and waits for its thread. Listeners stay open (the caller
    /// owns them; `remove` or close them).
    public func stop() {
        let thread = state.withLock { s -> ThreadHandle? in
            s.stopping = true
            for listener in s.listeners.values { direct?.idle.removeListener(fd: listener.socket.fd) }
            defer { s.thread = nil }
            return s.thread
        }
        wake.wake()
        thread?.join()
    }

    private func run() {
        var pausedUntil: Deadline?
        var loggedExhaustion = false
        while true {
            let (stopping, listeners, directExhausted) = state.withLock { s in
                defer { s.directExhausted = false }
                return (s.stopping, s.listeners.sorted { $0.key < $1.key }, s.directExhausted)
            }
            if stopping { return }
            if directExhausted {
                pausedUntil = .after(millis: pauseMillis)
                logExhaustion(&loggedExhaustion)
            }

            var fds = [pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0)]
            var timeout: Int32 = -1
            if let until = pausedUntil, !until.hasPassed {
                timeout = until.remainingMillisForPoll
            } else {
                if pausedUntil != nil {
                    pausedUntil = nil
                    loggedExhaustion = false
                    rearmDirect()
                }
                // Idle workers accept for themselves; the loop steps in when none is.
                if direct.map({ $0.waiting() == 0 }) ?? true {
                    for (_, l) in listeners { fds.append(pollfd(fd: l.socket.fd, events: Int16(POLLIN), revents: 0)) }
                }
            }
            pollingListeners.store(fds.count > 1, ordering: .relaxed)
            do throws(Errno) {
                _ = try sysPoll(&fds, timeoutMillis: timeout)
            } catch {
                log?.log(.alert, "poll() failed in accept loop", error: error)
                pausedUntil = .after(millis: pauseMillis)
                continue
            }
            if fds[0].revents != 0 { wake.drain() }
            // A listener removed while we polled must not accept any more.
            let current = state.withLock { $0.listeners.mapValues { ObjectIdentifier($0) } }
            for (index, entry) in listeners.enumerated()
            where fds.count > index + 1 && fds[index + 1].revents != 0 && current[entry.key] == ObjectIdentifier(entry.value) {
                if !acceptBatch(from: entry.value, id: entry.key) {
                    pausedUntil = .after(millis: pauseMillis)
                    logExhaustion(&loggedExhaustion)
                    break
                }
            }
        }
    }

    private func logExhaustion(_ logged: inout Bool) {
        guard !logged else { return }
        logged = true
        log?.log(.alert, "accept() failed, too many open files; pausing accept for \(pauseMillis)ms",
                 error: .tooManyOpenFiles)
    }

    /// After a pause: arms every listener again for the idle workers.
    private func rearmDirect() {
        guard let direct else { return }
        state.withLock { s in
            for (id, listener) in s.listeners { try? direct.idle.rearm(fd: listener.socket.fd, id: id) }
        }
    }

    /// Accepts up to `acceptBatch` connections; false when descriptors ran out.
    private func acceptBatch(from listener: Listener, id: Int) -> Bool {
        for _ in 0..<batchSize {
            var storage = sockaddr_storage()
            var length = socklen_t(0)
            do throws(Errno) {
                let fd = try sysAccept4(listener.socket.fd, storage: &storage, length: &length, flags: cnetSockFlags)
                acceptedTotal.add(1, ordering: .relaxed)
                handler(Socket(adopting: fd, nonBlocking: true, peer: SocketAddress(storage: storage, length: length)), id)
            } catch {
                switch failure(error, on: listener) {
                case .noneLeft: return true
                case .exhausted: return false
                case .skipped: continue
                }
            }
        }
        return true
    }

    private enum AcceptFailure { case noneLeft, exhausted, skipped }

    /// What a failed accept(2) means for the listener; logs what an operator should see.
    private func failure(_ error: Errno, on listener: Listener) -> AcceptFailure {
        switch error {
        case .wouldBlock:
            return .noneLeft
        case .badFileDescriptor:
            return .noneLeft  // removed and closed while we polled
        case .tooManyOpenFiles, .tooManyOpenFilesInSystem, Errno(ENOBUFS), Errno(ENOMEM):
            return .exhausted
        case Errno(ECONNABORTED), Errno(EPROTO), Errno(EPERM):
            // The client gave up before we took it; nginx logs these at a low level.
            log?.log(.info, "accept() failed", error: error)
            return .skipped
        default:
            log?.log(.alert, "accept() failed on \(listener.address)", error: error)
            return .noneLeft
        }
    }
}
