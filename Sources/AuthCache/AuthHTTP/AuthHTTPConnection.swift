import Glibc

/// One open connection to the auth service: a non-blocking socket plus the
/// few calls the auth_http exchange needs, each bounded by a deadline.
///
/// The AuthCache module has no access to the Server engine's Socket, and the
/// exchange is small (one write, a few reads), so this file keeps its own
/// syscalls. Every wait is a poll(2) with the time left until `deadline`.
final class AuthHTTPConnection {
    let fd: Int32
    let endpoint: AuthHTTPURL.Endpoint

    private init(fd: Int32, endpoint: AuthHTTPURL.Endpoint) {
        self.fd = fd
        self.endpoint = endpoint
    }

    deinit { Glibc.close(fd) }

    /// What went wrong on the way to an answer; `AuthHTTPClient` turns it into an `AuthHTTPError`.
    enum Failure: Error {
        case connect(String)
        case timedOut
        case transfer(String)
        /// The peer closed before sending anything (a kept-alive connection the service dropped).
        case closedBeforeAnswer
    }

    /// Resolves (inet names through getaddrinfo, once per new connection) and
    /// connects, trying each address in turn, all within `deadline`.
    static func open(_ endpoint: AuthHTTPURL.Endpoint, deadline: AuthDeadline) throws(Failure) -> AuthHTTPConnection {
        switch endpoint {
        case .unix(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw .connect("path too long") }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
            let fd = try makeSocket(family: AF_UNIX)
            let connection = AuthHTTPConnection(fd: fd, endpoint: endpoint)
            try withUnsafePointer(to: &address) { p throws(Failure) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(Failure) in
                    try connection.connect(sa, length, deadline: deadline)
                }
            }
            return connection
        case .inet(let host, let port):
            // "[::1]" is how the URL keeps an IPv6 literal; getaddrinfo wants it bare.
            var name = host
            if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(name, String(port), &hints, &list)
            guard status == 0, let first = list else {
                throw .connect("could not resolve \(name): " + String(cString: gai_strerror(status)))
            }
            defer { freeaddrinfo(list) }
            var lastError = Failure.connect("no address")
            var entry: UnsafeMutablePointer<addrinfo>? = first
            while let current = entry {
                entry = current.pointee.ai_next
                guard let sa = current.pointee.ai_addr else { continue }
                do throws(Failure) {
                    let fd = try makeSocket(family: current.pointee.ai_family)
                    let connection = AuthHTTPConnection(fd: fd, endpoint: endpoint)
                    try connection.connect(sa, current.pointee.ai_addrlen, deadline: deadline)
                    // One write per request, but the service should not wait for our ACK either.
                    var on: Int32 = 1
                    _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                    return connection
                } catch {
                    if case .timedOut = error { throw error }
                    lastError = error
                }
            }
            throw lastError
        }
    }

    private static func makeSocket(family: Int32) throws(Failure) -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .connect(errnoText()) }
        // SOCK_NONBLOCK/SOCK_CLOEXEC are GNU flags this module cannot see; two
        // fcntl calls per new connection, and connections live long.
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    private func connect(_ sa: UnsafePointer<sockaddr>, _ length: socklen_t, deadline: AuthDeadline) throws(Failure) {
        if Glibc.connect(fd, sa, length) == 0 { return }
        let e = errno
        guard e == EINPROGRESS || e == EAGAIN || e == EINTR else { throw .connect(errnoText(e)) }
        guard try wait(Int16(POLLOUT), deadline: deadline) else { throw .timedOut }
        var soError: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &size) == 0 else { throw .connect(errnoText()) }
        if soError != 0 { throw .connect(errnoText(soError)) }
    }

    /// Sends all of `bytes`; MSG_NOSIGNAL, so a service that went away is an error, not SIGPIPE.
    func send(_ bytes: [UInt8], deadline: AuthDeadline) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { b in
                Glibc.send(fd, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n >= 0 { offset += n; continue }
            let e = errno
            if e == EINTR { continue }
            guard e == EAGAIN || e == EWOULDBLOCK else { throw .transfer(errnoText(e)) }
            guard try wait(Int16(POLLOUT), deadline: deadline) else { throw .timedOut }
        }
    }

    /// Appends what is available to `buffer` (at most `max` bytes), waiting
    /// first when `pollFirst` (right after a request, nothing is there yet).
    /// Returns the count, 0 at end of stream.
    func receive(into buffer: inout [UInt8], max: Int, pollFirst: Bool, deadline: AuthDeadline) throws(Failure) -> Int {
        var poll = pollFirst
        while true {
            if poll { guard try wait(Int16(POLLIN), deadline: deadline) else { throw .timedOut } }
            var failure: Int32 = 0
            let chunk = [UInt8](unsafeUninitializedCapacity: max) { b, count in
                let r = Glibc.read(fd, b.baseAddress, max)
                if r < 0 { failure = errno; count = 0 } else { count = r }
            }
            if failure == 0 {
                buffer.append(contentsOf: chunk)
                return chunk.count
            }
            if failure == EINTR { poll = false; continue }
            guard failure == EAGAIN || failure == EWOULDBLOCK else { throw .transfer(errnoText(failure)) }
            poll = true
        }
    }

    /// Waits for `events`; false when the deadline passed first.
    private func wait(_ events: Int16, deadline: AuthDeadline) throws(Failure) -> Bool {
        while true {
            let left = deadline.remainingMillis
            if left <= 0 { return false }
            var fds = pollfd(fd: fd, events: events, revents: 0)
            let n = Glibc.poll(&fds, 1, Int32(clamping: left))
            if n > 0 { return true }
            if n < 0 && errno != EINTR { throw .transfer(errnoText()) }
        }
    }
}

/// A point in monotonic time for the auth exchange's one overall timeout.
struct AuthDeadline {
    let nanoseconds: Int64

    static func after(millis: Int) -> AuthDeadline {
        AuthDeadline(nanoseconds: Int64(monotonicNanos()) + Int64(millis) * 1_000_000)
    }

    /// Milliseconds left, rounded up so a poll never wakes just before the end.
    var remainingMillis: Int {
        let left = nanoseconds - Int64(monotonicNanos())
        return left <= 0 ? 0 : Int((left + 999_999) / 1_000_000)
    }
}

private func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
