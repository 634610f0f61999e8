import Glibc
import Protocols
import Synchronization
import AuthCache

/// Why the process could not start serving.
public enum RuntimeError: Error, Sendable, CustomStringConvertible {
    case listen(String, Errno)
    case engine(String, Errno)
    case pidFile(PidFileError)

    public var description: String {
        switch self {
        case .listen(let address, let errno): return "bind() to \(address) failed \(errno)"
        case .engine(let what, let errno): return "\(what) failed \(errno)"
        case .pidFile(let error): return "\(error)"
        }
    }
}

/// A listener that is open, with the settings its sessions get now.
private struct OpenListener: Sendable {
    let listener: Listener
    var plan: ListenerPlan
}

/// Open listeners by id, shared with the accept loop's hand-over.
private final class ListenerTable: Sendable {
    let entries = Mutex<[Int: OpenListener]>([:])
}

/// The running server: listeners, accept loop, session pool and relay, and
/// the main thread's signal loop that stops, reloads and reopens them.
public final class Runtime: Sendable {
    private let log: ErrorLog
    private let services: SessionServices
    private let pool: SessionPool<SessionWorker>
    private let table = ListenerTable()
    private let nextListenerID = Atomic<Int>(1)
    private let acceptLoop: Mutex<AcceptLoop?> = Mutex(nil)
    private let pidPath: String?
    private let shutdownTimeoutMillis: Int?

    /// Opens every listener, starts the threads and writes the pid file, in
    /// that order: the pid file means "ready".
    public init(plan: RuntimePlan, log: ErrorLog) throws(RuntimeError) {
        self.log = log
        self.pidPath = plan.pidPath
        self.shutdownTimeoutMillis = plan.shutdownTimeoutMillis
        let relay: RelayEngine
        do {
            relay = try RelayEngine(threads: plan.relayThreads)
        } catch {
            throw .engine("relay start", error)
        }
        services = SessionServices(log: log, relay: relay)
        do {
            pool = try SessionPool(threads: plan.sessionThreads, queueCapacity: plan.sessionQueue) { SessionWorker() }
        } catch {
            relay.stop()
            throw .engine("session pool start", error)
        }

        let opened = try Self.open(plan.listeners, log: log)
        let services = self.services
        let pool = self.pool
        let table = self.table
        let loop: AcceptLoop
        do throws(Errno) {
            loop = try AcceptLoop(log: log, direct: pool.directAcceptors) { socket, id in
                Runtime.dispatch(socket, listenerID: id, table: table, pool: pool, services: services)
            }
        } catch {
            for (listener, _) in opened { listener.close() }
            pool.stop()
            relay.stop()
            throw .engine("accept loop start", error)
        }
        pool.acceptDirectly({ id in
            loop.takeDirect(listenerID: id).flatMap {
                Runtime.session(for: $0, listenerID: id, table: table, services: services)?.job
            }
        }, idleChanged: { loop.idleWorkersChanged() })
        for (listener, listenerPlan) in opened {
            let id = nextListenerID.add(1, ordering: .relaxed).oldValue
            table.entries.withLock { $0[id] = OpenListener(listener: listener, plan: listenerPlan) }
            loop.add(listener, id: id)
        }
        loop.start()
        acceptLoop.withLock { $0 = loop }
        if let pidPath {
            do throws(PidFileError) {
                try PidFile.write(path: pidPath)
            } catch {
                stopAccepting()
                throw .pidFile(error)
            }
        }
    }

    private static func open(_ plans: [ListenerPlan], log: ErrorLog) throws(RuntimeError) -> [(Listener, ListenerPlan)] {
        var opened: [(Listener, ListenerPlan)] = []
        for plan in plans {
            // A socket systemd passed for this address (socket activation).
            if let inherited = InheritedListeners.shared.take(plan.address) {
                opened.append((inherited, plan))
                continue
            }
            do {
                let listener = try Listener.open(address: plan.address, backlog: plan.backlog, ipv6Only: plan.ipv6Only,
                                                 receiveBuffer: plan.receiveBuffer, sendBuffer: plan.sendBuffer,
                                                 keepAlive: plan.keepAlive)
                opened.append((listener, plan))
            } catch {
                for (listener, _) in opened { listener.close() }
                throw .listen(plan.address.description, error)
            }
        }
        return opened
    }

    /// A connection accepted from listener `listenerID`, numbered and counted live.
    private struct NewSession {
        let job: SessionPool<SessionWorker>.Job
        let settings: ProxySettings
        let connection: UInt64
        let serverAddress: String
    }

    /// The session of a connection accepted from listener `listenerID`, to run
    /// on a pool thread; nil (and the connection closed) when the listener is gone.
    private static func session(for socket: Socket, listenerID: Int, table: ListenerTable,
                                services: SessionServices) -> NewSession? {
        guard let entry = table.entries.withLock({ $0[listenerID] }) else {
            socket.close()
            return nil
        }
        let settings = entry.plan.settings
        let sessionServices = entry.plan.log.map { services.with(log: $0) } ?? services
        let serverAddress = entry.listener.address.description
        let connection = services.nextConnectionNumber()
        services.sessionStarted()
        return NewSession(job: { worker in
            guard let peer = acceptPeer(socket, settings: settings, services: sessionServices, connection: connection,
                                        serverAddress: serverAddress) else { return }
            runSession(client: socket, settings: settings, services: sessionServices, worker: worker,
                       connection: connection, serverAddress: serverAddress, peer: peer)
        }, settings: settings, connection: connection, serverAddress: serverAddress)
    }

    /// The accept loop's hand-over, while no pool thread is idle to accept for
    /// itself: the session is queued; when threads and queue are full the
    /// client hears "busy" and is closed.
    private static func dispatch(_ socket: Socket, listenerID: Int, table: ListenerTable,
                                 pool: SessionPool<SessionWorker>, services: SessionServices) {
        guard let session = session(for: socket, listenerID: listenerID, table: table, services: services) else { return }
        if !pool.submit(session.job) {
            services.log.log(.warn, "session pool is full, client refused",
                             context: LogContext(connection: session.connection, client: socket.peerAddress?.hostText,
                                                 server: session.serverAddress))
            // Best effort: the socket is non-blocking and the reply is tiny. A
            // `listen ... ssl` client expects a handshake, not plaintext: it is just closed.
            if session.settings.clientTLS?.implicit != true {
                _ = session.settings.mailProtocol.serverBusyReply.withUnsafeBytes { try? socket.write($0) }
            }
            socket.close()
            services.sessionEnded()
        }
    }

    public var liveSessions: Int { services.live }

    /// Listening sockets open now (systemd STATUS line).
    public var listenerCount: Int { table.entries.withLock { $0.count } }

    /// Where the listeners are bound (a port 0 listen shows the port the kernel chose).
    public var boundAddresses: [SocketAddress] {
        table.entries.withLock { $0.sorted { $0.key < $1.key }.map { $0.value.listener.address } }
    }

    /// HUP: serve `plan` from now on. New listeners open first; if one fails
    /// the reload is refused and nothing changes. Live sessions keep the
    /// settings they started with.
    public func reload(_ plan: RuntimePlan) -> Bool {
        let current = table.entries.withLock { $0 }
        var keep: [Int: ListenerPlan] = [:]
        var toOpen: [ListenerPlan] = []
        var unmatched = current
        for listenerPlan in plan.listeners {
            if let (id, _) = unmatched.first(where: { $0.value.plan.socketKey == listenerPlan.socketKey }) {
                keep[id] = listenerPlan
                unmatched.removeValue(forKey: id)
            } else {
                toOpen.append(listenerPlan)
            }
        }
        // Close what goes away before binding what comes, so an address that
        // moved between server blocks with other parameters can be rebound.
        let loop = acceptLoop.withLock { $0 }
        let opened: [(Listener, ListenerPlan)]
        do {
            opened = try Self.open(toOpen, log: log)
        } catch {
            log.log(.emerg, "\(error), reload refused, the old configuration keeps serving")
            return false
        }
        for (id, entry) in unmatched {
            loop?.remove(id: id)
            entry.listener.close()
            table.entries.withLock { _ = $0.removeValue(forKey: id) }
        }
        table.entries.withLock { table in
            for (id, listenerPlan) in keep { table[id]?.plan = listenerPlan }
        }
        for (listener, listenerPlan) in opened {
            let id = nextListenerID.add(1, ordering: .relaxed).oldValue
            table.entries.withLock { $0[id] = OpenListener(listener: listener, plan: listenerPlan) }
            loop?.add(listener, id: id)
        }
        return true
    }

    private func stopAccepting() {
        let loop = acceptLoop.withLock { l -> AcceptLoop? in defer { l = nil }; return l }
        loop?.stop()
        let all = table.entries.withLock { t -> [OpenListener] in defer { t = [:] }; return Array(t.values) }
        for entry in all { entry.listener.close() }
    }

    /// TERM/INT: stop at once; relayed pairs are closed.
    public func fastStop() {
        stopAccepting()
        services.relay.stop()
        AuthCacheRegistry.process.stopAll()
        if let pidPath { PidFile.remove(path: pidPath) }
    }

    /// QUIT: stop accepting and let sessions finish, bounded by
    /// `worker_shutdown_timeout` when set.
    public func gracefulStop() {
        stopAccepting()
        pool.stopAccepting()
        let deadline = shutdownTimeoutMillis.map { Deadline.after(millis: $0) } ?? .never
        _ = pool.drain(until: deadline)
        if !services.relay.waitUntilEmpty(until: deadline) {
            log.log(.notice, "worker_shutdown_timeout expired, closing \(services.relay.livePairs) sessions")
        }
        services.relay.stop()
        // Sessions the stop closed still reach the ledger.
        AuthCacheRegistry.process.stopAll()
        if let pidPath { PidFile.remove(path: pidPath) }
    }
}
