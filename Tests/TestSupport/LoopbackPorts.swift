import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

// Shared by every test module (they run in one test process), so one pool
// hands out the ports of the whole run.

/// A loopback TCP port that was free a moment ago. Chosen below the kernel's
/// ephemeral range (see `LoopbackPortPool`), so an auth service binding port 0
/// or a connection's source port cannot take it between choosing and binding.
public func freeLoopbackPort() -> Int {
    for _ in 0..<200 {
        let port = LoopbackPortPool.shared.next()
        if loopbackTCPPortIsFree(port) { return port }
    }
    return kernelChosenLoopbackPort()
}

/// Hands out ports from a window below the ephemeral range, in turn from a random
/// start, so two tests of the test process never get the same port until the
/// window wraps.
final class LoopbackPortPool: @unchecked Sendable {
    static let shared = LoopbackPortPool()

    private let lock = NSLock()
    private let range: Range<Int>
    private var cursor: Int

    private init() {
        range = 10_000..<Self.ephemeralLow()
        cursor = Int.random(in: 0..<range.count)
    }

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        cursor = (cursor + 1) % range.count
        return range.lowerBound + cursor
    }

    /// The first port the kernel may pick on its own (ip_local_port_range).
    private static func ephemeralLow() -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let low = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) }
        return max(low ?? 32768, 12_000)
    }
}

/// True when a TCP listener could bind 127.0.0.1:port right now.
public func loopbackTCPPortIsFree(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    return withLoopbackAddress(port) { bind(fd, $0, $1) == 0 }
}

/// True when something accepts a TCP connection on 127.0.0.1:port.
public func loopbackPortAccepts(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return withLoopbackAddress(port) { connect(fd, $0, $1) == 0 }
}

/// 127.0.0.1:port as the sockaddr that bind and connect take.
private func withLoopbackAddress<T>(_ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// The fallback: a port the kernel picks for a bind to port 0.
private func kernelChosenLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0, "socket() failed")
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
            bind(fd, sa, length) == 0 && getsockname(fd, sa, &length) == 0
        }
    }
    precondition(bound, "bind() to a free port failed")
    return Int(UInt16(bigEndian: address.sin_port))
}
