import Glibc
import Synchronization

/// One thread that polls every listening socket and hands each accepted
/// connection to `handler` together with the id of the listener that took it.
/// The handler runs on the accept thread: it should only submit the connection
/// to the session pool (or answer "busy" and close) and return.
///
/// Listeners can be added and removed while it runs (reload) and the loop can
/// be stopped (QUIT/TERM). On EMFILE/ENFILE it stops accepting for `pauseMillis`
/// and logs once per episode, as relayd does, rather than spinning on a
/// listener that stays readable.
public final class AcceptLoop: Sendable {
    public typealias Handler = @Sendable (_ connection: Socket, _ listenerID: Int) -> Void

    private struct State {
        var listeners: [Int: Listener] = [:]
        var stopping = false
        var thread: ThreadHandle?
    }

    private let state = Mutex(State())
    private let wake: WakePipe
    private let handler: Handler
    private let log: ErrorLog?
    private let pauseMillis: Int
    /// Connections taken per listener per wake-up, so one busy port cannot starve the others.
    private let batchSize = 32
    private let acceptedTotal = Atomic<Int>(0)

    public init(log: ErrorLog?, pauseMillis: Int = 500, handler: @escaping Handler) throws(Errno) {
        self.wake = try WakePipe()
        self.handler = handler
        self.log = log
        self.pauseMillis = pauseMillis
    }

    /// Connections handed to the handler so far.
    public var accepted: Int { acceptedTotal.load(ordering: .relaxed) }

    public func add(_ listener: Listener, id: Int) {
        state.withLock { $0.listeners[id] = listener }
        wake.wake()
    }

    /// Stops polling the listener and returns it; the caller closes it after this returns.
    @discardableResult
    public func remove(id: Int) -> Listener? {
        let removed = state.withLock { $0.listeners.removeValue(forKey: id) }
        wake.wake()
        return removed
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
            let (stopping, listeners) = state.withLock { ($0.stopping, $0.listeners.sorted { $0.key < $1.key }) }
            if stopping { return }

            var fds = [pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0)]
            var timeout: Int32 = -1
            if let until = pausedUntil, !until.hasPassed {
                timeout = until.remainingMillisForPoll
            } else {
                if pausedUntil != nil { pausedUntil = nil; loggedExhaustion = false }
                for (_, l) in listeners { fds.append(pollfd(fd: l.socket.fd, events: Int16(POLLIN), revents: 0)) }
            }
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
                    if !loggedExhaustion {
                        loggedExhaustion = true
                        log?.log(.alert, "accept() failed, too many open files; pausing accept for \(pauseMillis)ms",
                                 error: .tooManyOpenFiles)
                    }
                    break
                }
            }
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
                switch error {
                case .wouldBlock:
                    return true
                case .tooManyOpenFiles, .tooManyOpenFilesInSystem:
                    return false
                case Errno(ENOBUFS), Errno(ENOMEM):
                    return false
                case .badFileDescriptor:
                    return true  // removed and closed while we polled
                case Errno(ECONNABORTED), Errno(EPROTO), Errno(EPERM):
                    // The client gave up before we took it; nginx logs these at a low level.
                    log?.log(.info, "accept() failed", error: error)
                    continue
                default:
                    log?.log(.alert, "accept() failed on \(listener.address)", error: error)
                    return true
                }
            }
        }
        return true
    }
}
