import CNetShims
import Glibc
import Synchronization

// The only file that calls Glibc's descriptor and socket system calls. Every
// wrapper retries EINTR (except close, see sysClose) and throws a typed Errno,
// and the ones on the I/O path consult SyscallMock first so tests can inject
// errno values and short transfers.

/// Fault injection for tests, keyed by (operation, descriptor) so parallel tests
/// that script their own descriptors never disturb each other.
public enum SyscallMock {
    public enum Operation: Hashable, Sendable { case read, write, accept, connect, splice, poll }

    public enum Injection: Sendable, Equatable {
        /// Return -1 with this errno without making the call.
        case fail(Errno)
        /// Make the real call with the length capped at this many bytes.
        case limit(Int)
    }

    private struct Key: Hashable { let operation: Operation; let fd: Int32 }
    private static let scripts = Mutex<[Key: [Injection]]>([:])
    /// Fast path: production code never takes the lock while no script exists.
    private static let scriptCount = Atomic<Int>(0)

    /// Queues injections for the next calls of `operation` on `fd`, in order.
    public static func inject(_ injections: [Injection], into operation: Operation, fd: Int32) {
        scripts.withLock { $0[Key(operation: operation, fd: fd), default: []].append(contentsOf: injections) }
        scriptCount.add(injections.count, ordering: .sequentiallyConsistent)
    }

    /// How many queued injections have not been used yet.
    public static func pending(_ operation: Operation, fd: Int32) -> Int {
        scripts.withLock { $0[Key(operation: operation, fd: fd)]?.count ?? 0 }
    }

    static func next(_ operation: Operation, fd: Int32) -> Injection? {
        guard scriptCount.load(ordering: .relaxed) > 0 else { return nil }
        let injection: Injection? = scripts.withLock { scripts in
            let key = Key(operation: operation, fd: fd)
            guard var list = scripts[key], !list.isEmpty else { return nil }
            let first = list.removeFirst()
            scripts[key] = list.isEmpty ? nil : list
            return first
        }
        if injection != nil { scriptCount.subtract(1, ordering: .sequentiallyConsistent) }
        return injection
    }
}

/// Runs `body` until it stops failing with EINTR; a -1 result becomes a thrown Errno.
@inline(__always)
private func retryingEINTR<R: BinaryInteger>(_ body: () -> R) throws(Errno) -> R {
    while true {
        let result = body()
        if result >= 0 { return result }
        let error = Errno.current
        if error == .interrupted { continue }
        throw error
    }
}

/// Applies an injection: returns an errno to fail with or a capped length.
@inline(__always)
private func injected(_ op: SyscallMock.Operation, fd: Int32, length: Int) -> (fail: Errno?, length: Int) {
    switch SyscallMock.next(op, fd: fd) {
    case nil: return (nil, length)
    case .fail(let e)?: return (e, length)
    case .limit(let n)?: return (nil, min(n, length))
    }
}

/// read(2). 0 is end of file; EAGAIN is thrown as `.wouldBlock`.
func sysRead(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
    while true {
        let (fail, length) = injected(.read, fd: fd, length: buffer.count)
        if let fail { if fail == .interrupted { continue }; throw fail }
        let n = Glibc.read(fd, buffer.baseAddress, length)
        if n >= 0 { return n }
        let e = Errno.current
        if e == .interrupted { continue }
        throw e
    }
}

/// write(2). May write fewer bytes than given; EAGAIN is thrown as `.wouldBlock`.
func sysWrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
    while true {
        let (fail, length) = injected(.write, fd: fd, length: buffer.count)
        if let fail { if fail == .interrupted { continue }; throw fail }
        let n = Glibc.write(fd, buffer.baseAddress, length)
        if n >= 0 { return n }
        let e = Errno.current
        if e == .interrupted { continue }
        throw e
    }
}

/// poll(2) with a timeout in milliseconds (-1 waits forever). Retries EINTR with
/// the same timeout: callers with deadlines recompute and loop anyway.
func sysPoll(_ fds: inout [pollfd], timeoutMillis: Int32) throws(Errno) -> Int {
    let first = fds.first?.fd ?? -1
    while true {
        if case .fail(let e)? = SyscallMock.next(.poll, fd: first) {
            if e == .interrupted { continue }
            throw e
        }
        let n = fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), timeoutMillis) }
        if n >= 0 { return Int(n) }
        let e = Errno.current
        if e == .interrupted { continue }
        throw e
    }
}

/// accept4(2) with the given flags; fills `storage` with the peer address.
func sysAccept4(_ fd: Int32, storage: inout sockaddr_storage, length: inout socklen_t, flags: Int32) throws(Errno) -> Int32 {
    while true {
        if case .fail(let e)? = SyscallMock.next(.accept, fd: fd) {
            if e == .interrupted { continue }
            throw e
        }
        length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cnet_accept4(fd, $0, &length, flags) }
        }
        if n >= 0 { return n }
        let e = Errno.current
        if e == .interrupted { continue }
        throw e
    }
}

/// connect(2). On a non-blocking socket EINPROGRESS is thrown as `.inProgress`.
/// An EINTR'd connect keeps going in the kernel, so it is reported as in progress.
func sysConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) throws(Errno) {
    if case .fail(let e)? = SyscallMock.next(.connect, fd: fd) { throw e }
    if Glibc.connect(fd, address, length) == 0 { return }
    let e = Errno.current
    throw e == .interrupted ? .inProgress : e
}

func sysSocket(_ domain: Int32, _ type: Int32, _ proto: Int32) throws(Errno) -> Int32 {
    try retryingEINTR { Glibc.socket(domain, type, proto) }
}

func sysSocketPair(_ domain: Int32, _ type: Int32) throws(Errno) -> (Int32, Int32) {
    var fds: [Int32] = [-1, -1]
    _ = try retryingEINTR { fds.withUnsafeMutableBufferPointer { Glibc.socketpair(domain, type, 0, $0.baseAddress) } }
    return (fds[0], fds[1])
}

/// close(2). Never retried: on Linux the descriptor is released even when close
/// reports EINTR, and retrying could close a descriptor another thread just got.
func sysClose(_ fd: Int32) {
    _ = Glibc.close(fd)
}

func sysShutdown(_ fd: Int32, _ how: Int32) throws(Errno) {
    _ = try retryingEINTR { Glibc.shutdown(fd, how) }
}

func sysBind(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) throws(Errno) {
    _ = try retryingEINTR { Glibc.bind(fd, address, length) }
}

func sysListen(_ fd: Int32, _ backlog: Int32) throws(Errno) {
    _ = try retryingEINTR { Glibc.listen(fd, backlog) }
}

func sysSetSockOpt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(Errno) {
    var v = value
    _ = try retryingEINTR { Glibc.setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
}

func sysGetSockOptInt(_ fd: Int32, _ level: Int32, _ name: Int32) throws(Errno) -> Int32 {
    var v: Int32 = 0
    var len = socklen_t(MemoryLayout<Int32>.size)
    _ = try retryingEINTR { Glibc.getsockopt(fd, level, name, &v, &len) }
    return v
}

func sysGetSockName(_ fd: Int32, storage: inout sockaddr_storage, length: inout socklen_t) throws(Errno) {
    length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = try retryingEINTR {
        withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.getsockname(fd, $0, &length) } }
    }
}

func sysGetPeerName(_ fd: Int32, storage: inout sockaddr_storage, length: inout socklen_t) throws(Errno) {
    length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = try retryingEINTR {
        withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.getpeername(fd, $0, &length) } }
    }
}

/// pipe2(2) with O_CLOEXEC|O_NONBLOCK: wake pipes and splice pipes.
func sysPipe() throws(Errno) -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    _ = try retryingEINTR { fds.withUnsafeMutableBufferPointer { cnet_pipe2($0.baseAddress, O_CLOEXEC | O_NONBLOCK) } }
    return (fds[0], fds[1])
}

/// epoll_create1(2) with EPOLL_CLOEXEC.
func sysEpollCreate() throws(Errno) -> Int32 {
    try retryingEINTR { cnet_epoll_create() }
}

/// Adds (`add`) or re-arms `fd` for one readable report with `token`.
func sysEpollArmOnce(_ epfd: Int32, _ fd: Int32, token: UInt64, add: Bool) throws(Errno) {
    _ = try retryingEINTR { cnet_epoll_arm_once(epfd, fd, token, add ? 1 : 0) }
}

func sysEpollForget(_ epfd: Int32, _ fd: Int32) throws(Errno) {
    _ = try retryingEINTR { cnet_epoll_forget(epfd, fd) }
}

/// epoll_wait(2) for one event: its token, or nil when `timeoutMillis` passed.
func sysEpollWaitOne(_ epfd: Int32, timeoutMillis: Int32) throws(Errno) -> UInt64? {
    var token: UInt64 = 0
    let n = try retryingEINTR { cnet_epoll_wait_one(epfd, &token, timeoutMillis) }
    return n == 1 ? token : nil
}

/// eventfd(2), non-blocking and close-on-exec, in semaphore mode: each read takes one.
func sysEventFDSemaphore() throws(Errno) -> Int32 {
    try retryingEINTR { cnet_eventfd_semaphore() }
}

/// splice(2) between a socket and a pipe, non-blocking.
func sysSplice(from source: Int32, to destination: Int32, length: Int) throws(Errno) -> Int {
    while true {
        let (fail, len) = injected(.splice, fd: source, length: length)
        if let fail { if fail == .interrupted { continue }; throw fail }
        let n = cnet_splice(source, destination, len, cnet_splice_f_move() | cnet_splice_f_nonblock())
        if n >= 0 { return n }
        let e = Errno.current
        if e == .interrupted { continue }
        throw e
    }
}

func sysSetPipeSize(_ fd: Int32, _ size: Int32) throws(Errno) -> Int32 {
    try retryingEINTR { cnet_set_pipe_size(fd, size) }
}

/// Makes a descriptor non-blocking (sockets we did not create with SOCK_NONBLOCK).
func sysSetNonBlocking(_ fd: Int32) throws(Errno) {
    let flags = try retryingEINTR { fcntl(fd, F_GETFL) }
    _ = try retryingEINTR { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
}

/// open(2) for the error log and the pid file.
func sysOpen(_ path: String, _ flags: Int32, _ mode: mode_t) throws(Errno) -> Int32 {
    try retryingEINTR { Glibc.open(path, flags | O_CLOEXEC, mode) }
}

func sysUnlink(_ path: String) throws(Errno) {
    _ = try retryingEINTR { Glibc.unlink(path) }
}

func sysChmod(_ path: String, _ mode: mode_t) throws(Errno) {
    _ = try retryingEINTR { Glibc.chmod(path, mode) }
}

/// lstat(2): whether a path is a unix socket (a stale listener we may unlink).
func sysIsSocketFile(_ path: String) -> Bool {
    var st = stat()
    guard lstat(path, &st) == 0 else { return false }
    return (st.st_mode & S_IFMT) == S_IFSOCK
}

func sysKill(_ pid: Int32, _ signal: Int32) throws(Errno) {
    _ = try retryingEINTR { Glibc.kill(pid, signal) }
}

func sysGetPid() -> Int32 { getpid() }
func sysGetTid() -> Int { cnet_gettid() }

let sockNonBlockFlag: Int32 = cnet_sock_nonblock()
let sockCloExecFlag: Int32 = cnet_sock_cloexec()

/// recv(2) with flags (MSG_PEEK for the PROXY protocol header: look at it
/// before deciding how many bytes belong to it). EAGAIN is thrown as `.wouldBlock`.
func sysRecv(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, flags: Int32) throws(Errno) -> Int {
    while true {
        let n = Glibc.recv(fd, buffer.baseAddress, buffer.count, flags)
        if n >= 0 { return n }
        let e = Errno.current
        if e == .interrupted { continue }
        throw e
    }
}
