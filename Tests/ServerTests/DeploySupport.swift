import Foundation
import Glibc
import TestSupport

// Helpers for the Deploy* suites: run the built `postern` binary with a
// config in a temporary directory, talk to it over raw loopback sockets, and
// stand in for systemd's notify socket.

enum DeployTestError: Error, CustomStringConvertible {
    case failed(String)
    var description: String { if case .failed(let s) = self { return s }; return "" }
}

/// The package root, from this file's path (Tests/ServerTests/DeploySupport.swift).
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// The debug binary `swift build` / `swift test` leaves behind.
var posternBinary: String? {
    let path = packageRoot.appendingPathComponent(".build/debug/postern").path
    return FileManager.default.isExecutableFile(atPath: path) ? path : nil
}

/// A fresh temporary directory, world-traversable so a dropped-privilege
/// process can still write its log there.
func makeTempDirectory(_ tag: String) throws -> String {
    let path = NSTemporaryDirectory() + "postern-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    chmod(path, 0o777)
    return path
}

/// A minimal IMAP-only config; `servers` are the server blocks' bodies.
func minimalConfig(dir: String, level: String = "info", main: String = "", mailExtra: String = "",
                   servers: [String]) -> String {
    """
    daemon off;
    error_log \(dir)/error.log \(level);
    pid \(dir)/postern.pid;
    \(main)
    events {}
    mail {
        auth_http 127.0.0.1:1/auth;
        \(mailExtra)
    \(servers.map { "    server {\n        \($0)\n    }" }.joined(separator: "\n"))
    }

    """
}

/// One spawned `postern -c FILE`, stopped by TERM when the test ends. It is
/// reaped with our own waitpid (`SpawnedProcess`), not Foundation's `Process`:
/// that one learns of every child's exit on a single monitor thread, which a
/// child elsewhere in the run that closes its inherited descriptors can hold
/// up for minutes, and a bounded `stop()` then saw a stopped postern as running.
final class PosternProcess {
    let process: SpawnedProcess
    let dir: String
    let configPath: String
    let stderrPath: String

    init(dir: String, config: String, environment: [String: String] = [:], extraArguments: [String] = []) throws {
        guard let binary = posternBinary else { throw DeployTestError.failed("no built postern binary") }
        self.dir = dir
        configPath = dir + "/postern.conf"
        stderrPath = dir + "/stderr.log"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        for (k, v) in environment { env[k] = v }
        // stdout and stderr both go to stderr.log.
        process = try SpawnedProcess(binary, ["-p", dir + "/", "-c", configPath, "-e", dir + "/error.log"] + extraArguments,
                                     outputPath: stderrPath, environment: env)
    }

    var pid: Int32 { process.pid }

    func rewriteConfig(_ text: String) throws { try text.write(toFile: configPath, atomically: true, encoding: .utf8) }

    /// Only while it runs: a reaped pid may already belong to another process.
    func signal(_ number: Int32) { if process.isRunning { kill(pid, number) } }

    var log: String { (try? String(contentsOfFile: dir + "/error.log", encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until the error log contains `text`, at most `seconds`.
    @discardableResult
    func waitForLog(_ text: String, seconds: Double = 10) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if log.contains(text) { return true }
            usleep(20_000)
        }
        return false
    }

    /// Waits until the error log contains `text` at least `count` times.
    @discardableResult
    func waitForLog(_ text: String, count: Int, seconds: Double = 10) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if log.components(separatedBy: text).count - 1 >= count { return true }
            usleep(20_000)
        }
        return false
    }

    /// TERM and wait (bounded); returns the exit status.
    @discardableResult
    func stop(signal number: Int32 = SIGTERM, seconds: Double = 10) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, number)
        guard process.waitForExit(seconds: seconds) else { process.kill(); return nil }
        return process.terminationStatus
    }

    /// Waits (bounded) for an exit the test expects on its own; the status, or nil.
    func waitForExit(seconds: Double = 10) -> Int32? {
        process.waitForExit(seconds: seconds) ? process.terminationStatus : nil
    }
}

/// A blocking loopback TCP client with a receive timeout on every read.
final class RawClient {
    let fd: Int32
    private var pending: [UInt8] = []

    convenience init?(port: Int, attempts: Int = 100) {
        self.init(port: UInt16(port), attempts: attempts)
    }

    init?(port: UInt16, attempts: Int = 100) {
        var connected: Int32 = -1
        for _ in 0..<attempts {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if rc == 0 { connected = s; break }
            close(s)
            usleep(50_000)
        }
        guard connected >= 0 else { return nil }
        fd = connected
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Wraps an accepted descriptor (the fake servers' side).
    init(fd: Int32) {
        self.fd = fd
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Exactly `count` bytes (an IMAP literal); nil on timeout or close.
    func readBytes(_ count: Int) -> [UInt8]? {
        for _ in 0..<10_000 {
            if pending.count >= count {
                let out = Array(pending[..<count])
                pending.removeFirst(count)
                return out
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            pending += chunk[..<n]
        }
        return nil
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// One line without CRLF; nil on timeout or close.
    func readLine() -> String? {
        for _ in 0..<10_000 {
            if let lf = pending.firstIndex(of: 0x0A) {
                let line = pending[..<lf]
                pending.removeSubrange(...lf)
                return String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            pending += chunk[..<n]
        }
        return nil
    }

    /// Lines up to and including the first starting with `prefix`.
    func readUntil(prefix: String, maxLines: Int = 100) -> [String] {
        var lines: [String] = []
        for _ in 0..<maxLines {
            guard let line = readLine() else { break }
            lines.append(line)
            if line.hasPrefix(prefix) { break }
        }
        return lines
    }

    /// Sends `tag CAPABILITY` and returns the untagged CAPABILITY line.
    func capability(tag: String = "c1") -> String? {
        send("\(tag) CAPABILITY\r\n")
        return readUntil(prefix: "\(tag) ").first { $0.hasPrefix("* CAPABILITY") }
    }
}

/// systemd's side of sd_notify: a datagram socket bound to a path.
final class NotifyReceiver {
    let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") {
            // Abstract: a leading NUL, and the length covers exactly the name.
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: [0] + bytes.dropFirst()) }
        } else {
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count
            + (bytes.first == UInt8(ascii: "@") ? 0 : 1)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard rc == 0 else { throw DeployTestError.failed("bind notify socket: errno \(errno)") }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        if !path.hasPrefix("@") { unlink(path) }
    }

    /// Next datagram within `seconds`, as text.
    func receive(seconds: Double = 10) -> String? {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { return String(decoding: buffer[..<n], as: UTF8.self) }
        }
        return nil
    }

    /// Datagrams until one contains `line` as a whole line (that one included).
    func receive(until line: String, seconds: Double = 10) -> [String] {
        var got: [String] = []
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            guard let message = receive(seconds: end.timeIntervalSinceNow) else { break }
            got.append(message)
            if message.split(separator: "\n").contains(Substring(line)) { break }
        }
        return got
    }
}

/// A loopback TCP server on a free port; each connection runs `handler` on its own thread.
final class FakeServer: @unchecked Sendable {
    let fd: Int32
    let port: UInt16

    init(_ handler: @escaping @Sendable (RawClient) -> Void) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(fd, $0, length)
                _ = getsockname(fd, $0, &length)
            }
        }
        port = UInt16(bigEndian: address.sin_port)
        _ = listen(fd, 64)
        let listenFD = fd
        Thread {
            for _ in 0..<1_000 {
                let client = accept(listenFD, nil, nil)
                if client < 0 { return }
                Thread { handler(RawClient(fd: client)) }.start()
            }
        }.start()
    }

    private let stopLock = NSLock()
    private var stopped = false

    /// Closes the listening socket once (a second close could hit a reused descriptor).
    func stop() {
        stopLock.lock()
        defer { stopLock.unlock() }
        guard !stopped else { return }
        stopped = true
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
    deinit { stop() }
}

/// Thread-safe record of what fake servers saw.
final class Transcript: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
