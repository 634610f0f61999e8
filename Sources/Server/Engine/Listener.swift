import Glibc

/// nginx `listen ... so_keepalive=`: off, on (system timers), or explicit timers.
public enum KeepAliveSetting: Sendable, Equatable {
    case off
    case on
    case timers(idle: Int?, interval: Int?, count: Int?)
}

/// A bound, listening, non-blocking, close-on-exec socket.
public final class Listener: Sendable {
    public let socket: Socket
    /// The address as bound; for port 0 this carries the port the kernel chose.
    public let address: SocketAddress

    init(socket: Socket, address: SocketAddress) {
        self.socket = socket
        self.address = address
    }

    /// Opens a listener the way nginx does for a `listen` directive.
    ///
    /// - backlog: nginx's default is 511 on Linux.
    /// - ipv6Only: nginx's `ipv6only=on` default, so `[::]:143` and `0.0.0.0:143` can coexist.
    /// - A unix path: a stale socket file left by a previous run is unlinked
    ///   first (only if it is a socket), and the new one is made 0666 as nginx does.
    public static func open(
        address: SocketAddress,
        backlog: Int32 = 511,
        ipv6Only: Bool = true,
        receiveBuffer: Int? = nil,
        sendBuffer: Int? = nil,
        keepAlive: KeepAliveSetting = .off,
        reuseAddress: Bool = true
    ) throws(Errno) -> Listener {
        if case .unix(let path) = address, sysIsSocketFile(path) {
            try? sysUnlink(path)
        }
        let socket = try Socket.make(family: address.family)
        do throws(Errno) {
            if reuseAddress, address.family != AF_UNIX {
                try socket.setOption(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            }
            if address.family == AF_INET6 {
                try socket.setOption(level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: ipv6Only ? 1 : 0)
            }
            if let receiveBuffer { try socket.setOption(level: SOL_SOCKET, name: SO_RCVBUF, value: Int32(receiveBuffer)) }
            if let sendBuffer { try socket.setOption(level: SOL_SOCKET, name: SO_SNDBUF, value: Int32(sendBuffer)) }
            // Accepted sockets inherit SO_KEEPALIVE and the TCP_KEEP* timers on Linux.
            switch keepAlive {
            case .off: break
            case .on: try socket.setKeepAlive()
            case .timers(let idle, let interval, let count):
                try socket.setKeepAlive(idle: idle, interval: interval, count: count)
            }
            let fd = socket.fd
            try address.withSockAddr { (sa, len) throws(Errno) in try sysBind(fd, sa, len) }
            if case .unix(let path) = address { try sysChmod(path, 0o666) }
            try sysListen(fd, backlog)
        } catch {
            socket.close()
            throw error
        }
        let bound = socket.localAddress ?? address
        if case .unix = address { return Listener(socket: socket, address: address) }
        return Listener(socket: socket, address: bound)
    }

    /// Stops listening; a unix socket file is removed as nginx does on exit.
    public func close() {
        socket.close()
        if case .unix(let path) = address, sysIsSocketFile(path) { try? sysUnlink(path) }
    }
}
