import Glibc
import Synchronization

/// systemd socket activation (sd_listen_fds(3)) without libsystemd: the
/// listening sockets a `.socket` unit passes as descriptors 3, 4, ... with
/// `LISTEN_PID` (must be us) and `LISTEN_FDS` (how many). Each is matched to
/// a `listen` directive by the address it is bound to; a listen directive
/// with no inherited socket is bound as usual, so a partial socket unit works.
enum SocketActivation {
    static let firstDescriptor: Int32 = 3

    /// The inherited descriptors, or none when the variables are absent,
    /// malformed, or meant for another process (a parent that forgot to
    /// clear them).
    static func descriptors(listenPID: String?, listenFDs: String?, ownPID: Int32) -> Range<Int32> {
        guard let listenPID, let pid = Int32(listenPID), pid == ownPID,
              let listenFDs, let count = Int32(listenFDs), count > 0, count < 4096 else {
            return firstDescriptor..<firstDescriptor
        }
        return firstDescriptor..<(firstDescriptor + count)
    }

    /// Reads and clears the variables (children must not take them), then
    /// records each inherited socket by its bound address.
    static func adoptFromEnvironment() {
        func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        let range = descriptors(listenPID: variable("LISTEN_PID"), listenFDs: variable("LISTEN_FDS"),
                                ownPID: sysGetPid())
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
        for fd in range {
            let socket = Socket(adopting: fd)
            guard let address = socket.localAddress else {
                _ = socket.release()
                continue
            }
            // systemd passes them blocking and inheritable; the accept loop
            // wants non-blocking, and no child should keep them.
            try? sysSetNonBlocking(fd)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            InheritedListeners.shared.add(Listener(socket: socket, address: address))
        }
    }
}

/// Inherited listening sockets not yet claimed by a listen directive.
final class InheritedListeners: Sendable {
    static let shared = InheritedListeners()
    private let waiting = Mutex<[Listener]>([])

    func add(_ listener: Listener) { waiting.withLock { $0.append(listener) } }

    /// The inherited socket bound to `address`, once.
    func take(_ address: SocketAddress) -> Listener? {
        waiting.withLock { list in
            guard let i = list.firstIndex(where: { $0.address == address }) else { return nil }
            return list.remove(at: i)
        }
    }

    /// Closes what no listen directive claimed; returns their addresses for the log.
    func closeUnclaimed() -> [SocketAddress] {
        let rest = waiting.withLock { list -> [Listener] in defer { list = [] }; return list }
        for listener in rest { listener.socket.close() }
        return rest.map(\.address)
    }
}
