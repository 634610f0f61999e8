import Foundation
import Glibc

/// Runs Fixtures/auth_stub.py for one test: a real HTTP auth service on a
/// free loopback port (or a unix socket) that records what it received.
final class AuthStub {
    let process = Process()
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()
    let recordPath: String
    private(set) var port = 0
    let unixPath: String?

    init(scenario: String, unixSocket: Bool = false) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("authstub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        recordPath = dir.appendingPathComponent("requests.jsonl").path
        unixPath = unixSocket ? dir.appendingPathComponent("auth.sock").path : nil
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/auth_stub.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, scenario, recordPath] + (unixPath.map { ["unix:" + $0] } ?? [])
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        try process.run()
        // The first line is "PORT n" or "READY"; bounded by the stub's own startup.
        var line = Data()
        let handle = stdoutPipe.fileHandleForReading
        while line.count < 64 {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0A]) { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("PORT ") {
            port = Int(text.dropFirst(5)) ?? 0
        }
        guard port > 0 || (unixSocket && text == "READY") else {
            stop()
            throw StubError.didNotStart(text)
        }
    }

    enum StubError: Error { case didNotStart(String) }

    func stop() {
        try? stdinPipe.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    deinit { stop() }

    struct Recorded {
        var requestLine: String
        var headers: [(String, String)]
        var peerPort: Int
    }

    /// The requests the stub recorded so far, in order.
    func requests() throws -> [Recorded] {
        guard let data = FileManager.default.contents(atPath: recordPath) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            let pairs = (object["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
            return Recorded(requestLine: object["request_line"] as? String ?? "",
                            headers: pairs, peerPort: object["peer_port"] as? Int ?? -1)
        }
    }
}

/// A loopback port nobody listens on: bound, then closed.
func closedLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}
