import Glibc
import Synchronization

/// What one bounded read produced.
public enum ReadResult: Sendable, Equatable {
    case bytes([UInt8])
    case endOfStream
    case timedOut
}

/// A connected or listening socket that owns its descriptor.
///
/// A final class rather than a `~Copyable` struct: a socket travels from the
/// accept loop through `@Sendable` escaping closures (pool job, session, relay),
/// and escaping closures cannot capture noncopyable values. Ownership stays
/// single by convention (one thread uses a socket at a time) and closing has
/// one path: `close()` swaps the descriptor out atomically, so a second close,
/// or the backstop in `deinit`, is a no-op and never closes a reused number.
///
/// Descriptors are non-blocking; every wait is a poll(2) bounded by a Deadline.
public final class Socket: Sendable {
    private let descriptor: Atomic<Int32>
    /// The peer as accept4(2) reported it, so asking again costs no getpeername(2).
    private let acceptedPeer: SocketAddress?
    /// Made non-blocking by the engine (SOCK_NONBLOCK); a relay endpoint
    /// then skips its two fcntl(2) calls.
    public let isKnownNonBlocking: Bool

    /// Takes ownership of `fd`. The engine's own sockets are created and accepted
    /// non-blocking (say so with `nonBlocking`); every wait below goes through
    /// poll with a deadline.
    public init(adopting fd: Int32, nonBlocking: Bool = false, peer: SocketAddress? = nil) {
        descriptor = Atomic(fd)
        isKnownNonBlocking = nonBlocking
        acceptedPeer = peer
    }

    deinit { close() }

    /// The descriptor, or -1 once closed.
    public var fd: Int32 { descriptor.load(ordering: .acquiring) }
    public var isClosed: Bool { fd < 0 }

    /// The one close path; idempotent.
    public func close() {
        let old = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        if old >= 0 { sysClose(old) }
    }

    /// Gives up ownership without closing (e.g. to hand the descriptor to another owner).
    @discardableResult
    public func release() -> Int32 { descriptor.exchange(-1, ordering: .acquiringAndReleasing) }

    // MARK: Creation

    /// A new non-blocking, close-on-exec socket of `address`'s family.
    static func make(family: Int32) throws(Errno) -> Socket {
        let fd = try sysSocket(family, Int32(SOCK_STREAM.rawValue) | cnetSockFlags, 0)
        return Socket(adopting: fd, nonBlocking: true)
    }

    /// A connected unix socket pair (tests and in-process plumbing), non-blocking.
    public static func pair() throws(Errno) -> (Socket, Socket) {
        let (a, b) = try sysSocketPair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | cnetSockFlags)
        return (Socket(adopting: a, nonBlocking: true), Socket(adopting: b, nonBlocking: true))
    }

    /// Connects with a non-blocking connect(2) and a poll for writability, so a
    /// blackholed backend costs at most `timeoutMillis` (for nginx's mail proxy,
    /// the `timeout` directive bounds the backend connect). Throws `.timedOut`
    /// or the connect error (e.g. `.connectionRefused`).
    public static func connect(to address: SocketAddress, timeoutMillis: Int) throws(Errno) -> Socket {
        let (socket, inProgress) = try startConnect(to: address)
        if inProgress { try socket.finishConnect(deadline: .after(millis: timeoutMillis)) }
        return socket
    }

    /// A non-blocking connect(2) that does not wait: the socket, and whether the
    /// connection is still being set up. A caller that reads first can skip
    /// `finishConnect`: poll reports the failed connect, and the read its error.
    public static func startConnect(to address: SocketAddress) throws(Errno) -> (Socket, inProgress: Bool) {
        let socket = try make(family: address.family)
        do throws(Errno) {
            try address.withSockAddr { (sa, len) throws(Errno) in try sysConnect(socket.fd, sa, len) }
            return (socket, false)
        } catch let e where e == .inProgress || e == .wouldBlock {
            // EAGAIN: a unix socket whose backlog is full; poll works the same way.
            return (socket, true)
        } catch {
            socket.close()
            throw error
        }
    }

    /// Waits for a `startConnect` in progress to finish; on failure the socket is closed.
    public func finishConnect(deadline: Deadline) throws(Errno) {
        do throws(Errno) {
            guard try waitFor(events: Int16(POLLOUT), deadline: deadline) else { throw Errno.timedOut }
            let soError = try sysGetSockOptInt(fd, SOL_SOCKET, SO_ERROR)
            if soError != 0 { throw Errno(soError) }
        } catch {
            close()
            throw error
        }
    }

    // MARK: I/O

    /// One read(2): the byte count, 0 at end of stream; throws `.wouldBlock` if nothing is ready.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try sysRead(fd, into: buffer)
    }

    /// One write(2): may be short; throws `.wouldBlock` if the send buffer is full.
    public func write(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try sysWrite(fd, buffer)
    }

    /// Waits until `events` are ready or the deadline passes (false).
    /// POLLHUP/POLLERR count as ready so the following call reports the condition.
    public func waitFor(events: Int16, deadline: Deadline) throws(Errno) -> Bool {
        while true {
            var fds = [pollfd(fd: fd, events: events, revents: 0)]
            let n = try sysPoll(&fds, timeoutMillis: deadline.remainingMillisForPoll)
            if n > 0 {
                if fds[0].revents & Int16(POLLNVAL) != 0 { throw Errno.badFileDescriptor }
                return true
            }
            if deadline.hasPassed { return false }
        }
    }

    /// Reads what is available (at most `max` bytes), waiting until the deadline.
    /// Tries the read first and polls only when nothing is ready. The array is
    /// filled by read(2) directly: zero-filling `max` bytes first cost more
    /// instructions than the rest of a login's reads (callgrind).
    public func readSome(max: Int, deadline: Deadline) throws(Errno) -> ReadResult {
        let capacity = Swift.max(max, 1)
        while true {
            do throws(Errno) {
                let fd = self.fd
                var failure: Errno?
                let storage = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                    do throws(Errno) {
                        count = try sysRead(fd, into: UnsafeMutableRawBufferPointer(buffer))
                    } catch {
                        failure = error
                        count = 0
                    }
                }
                if let failure { throw failure }
                if storage.isEmpty { return .endOfStream }
                return .bytes(storage)
            } catch let e where e == .wouldBlock {
                guard try waitFor(events: Int16(POLLIN), deadline: deadline) else { return .timedOut }
            }
        }
    }

    /// Writes every byte or throws; `.timedOut` if the peer does not drain in time.
    public func writeAll(_ bytes: [UInt8], deadline: Deadline) throws(Errno) {
        try bytes.withUnsafeBytes { buffer in Result { () throws(Errno) in try writeAll(buffer, deadline: deadline) } }.get()
    }

    public func writeAll(_ buffer: UnsafeRawBufferPointer, deadline: Deadline) throws(Errno) {
        var offset = 0
        while offset < buffer.count {
            do throws(Errno) {
                offset += try sysWrite(fd, UnsafeRawBufferPointer(rebasing: buffer[offset...]))
            } catch let e where e == .wouldBlock {
                guard try waitFor(events: Int16(POLLOUT), deadline: deadline) else { throw Errno.timedOut }
            }
        }
    }

    /// Runs `body` and closes the socket afterwards, whatever happens.
    public func closeAfter<R, E: Error>(_ body: (Socket) throws(E) -> R) throws(E) -> R {
        defer { close() }
        return try body(self)
    }

    // MARK: Options

    public func setNoDelay(_ on: Bool = true) throws(Errno) {
        try sysSetSockOpt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, on ? 1 : 0)
    }

    /// SO_KEEPALIVE plus the optional per-socket timers (nginx `so_keepalive=idle:intvl:cnt`);
    /// nil leaves the system default for that timer.
    public func setKeepAlive(idle: Int? = nil, interval: Int? = nil, count: Int? = nil) throws(Errno) {
        try sysSetSockOpt(fd, SOL_SOCKET, SO_KEEPALIVE, 1)
        if let idle { try sysSetSockOpt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, Int32(idle)) }
        if let interval { try sysSetSockOpt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, Int32(interval)) }
        if let count { try sysSetSockOpt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, Int32(count)) }
    }

    public func setOption(level: Int32, name: Int32, value: Int32) throws(Errno) {
        try sysSetSockOpt(fd, level, name, value)
    }

    public func option(level: Int32, name: Int32) throws(Errno) -> Int32 {
        try sysGetSockOptInt(fd, level, name)
    }

    /// shutdown(SHUT_WR): the peer reads end of stream; we can still read.
    public func shutdownWrite() throws(Errno) { try sysShutdown(fd, Int32(SHUT_WR)) }

    /// shutdown(SHUT_RDWR): wakes a thread blocked on this socket without
    /// closing the descriptor under it.
    public func shutdownBoth() throws(Errno) { try sysShutdown(fd, Int32(SHUT_RDWR)) }

    public var localAddress: SocketAddress? {
        var storage = sockaddr_storage(); var length = socklen_t(0)
        guard (try? sysGetSockName(fd, storage: &storage, length: &length)) != nil else { return nil }
        return SocketAddress(storage: storage, length: length)
    }

    public var peerAddress: SocketAddress? {
        if let acceptedPeer { return acceptedPeer }
        var storage = sockaddr_storage(); var length = socklen_t(0)
        guard (try? sysGetPeerName(fd, storage: &storage, length: &length)) != nil else { return nil }
        return SocketAddress(storage: storage, length: length)
    }
}

/// SOCK_NONBLOCK | SOCK_CLOEXEC (GNU flags, read through the shim).
let cnetSockFlags: Int32 = sockNonBlockFlag | sockCloExecFlag
