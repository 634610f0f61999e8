@testable import AuthCache
import Foundation
import Protocols
import Testing
@testable import Server

/// A fake auth service and IMAP backend in one Python process: the auth
/// service accepts password "right" (proxying to the backend) and refuses
/// anything else, appending one line per request to a record file.
final class CacheFakeServices {
    static let script = #"""
import socket, sys, threading
record = sys.argv[1]
def auth_server(sock, backend_port):
    while True:
        c, _ = sock.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk: break
            data += chunk
        with open(record, "a") as f: f.write("request\n")
        ok = b"\r\nAuth-Pass: right\r\n" in data
        head = ("Auth-Status: OK\r\nAuth-Server: 127.0.0.1\r\nAuth-Port: %d\r\n" % backend_port) if ok \
            else "Auth-Status: Invalid login or password\r\nAuth-Wait: 0\r\n"
        c.sendall(("HTTP/1.0 200 OK\r\n" + head + "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
        c.close()
def backend_session(c):
    c.sendall(b"* OK fake backend\r\n")
    data = b""
    sent = 0
    while data.count(b"\r\n") < 3:
        chunk = c.recv(4096)
        if not chunk: return
        data += chunk
        lines = data.count(b"\r\n")
        while sent < min(lines, 2):
            c.sendall(b"+ go\r\n"); sent += 1
    tag = data.split(b" ")[0]
    c.sendall(tag + b" OK logged in\r\n")
    while c.recv(4096): pass
    c.close()
def backend_server(sock):
    while True:
        c, _ = sock.accept()
        threading.Thread(target=backend_session, args=(c,), daemon=True).start()
a = socket.socket(); a.bind(("127.0.0.1", 0)); a.listen(16)
b = socket.socket(); b.bind(("127.0.0.1", 0)); b.listen(16)
threading.Thread(target=auth_server, args=(a, b.getsockname()[1]), daemon=True).start()
threading.Thread(target=backend_server, args=(b,), daemon=True).start()
print("PORT %d" % a.getsockname()[1], flush=True)
sys.stdin.read()
"""#
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    let dir: URL
    var recordPath: String { dir.appendingPathComponent("requests").path }
    private(set) var authPort = 0

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("postern-cache-rt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, dir.appendingPathComponent("requests").path]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line = Data()
        while line.count < 32 {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0A]) { break }
            line.append(byte)
        }
        authPort = Int(String(decoding: line, as: UTF8.self).dropFirst(5)) ?? 0
        guard authPort > 0 else { throw Errno(EIO) }
    }

    var authRequests: Int {
        ((try? String(contentsOfFile: recordPath, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    deinit {
        try? input.fileHandleForWriting.close()
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: dir)
    }
}

@Suite(.serialized) struct CacheRuntimeTests {
    static func start(_ fake: CacheFakeServices, cache: AuthCacheSettings?) throws -> Runtime {
        var settings = RuntimeTests.settings(authPort: fake.authPort)
        settings.authCache = cache
        let plan = RuntimePlan(listeners: [ListenerPlan(address: .ip("127.0.0.1", port: 0)!, settings: settings)],
                               logTargets: [], pidPath: nil, sessionThreads: 2, sessionQueue: 4)
        return try Runtime(plan: plan, log: ErrorLog.stderr(level: .emerg))
    }

    /// Logs in once and returns the tagged reply line.
    static func login(_ runtime: Runtime, _ user: String, _ password: String) throws -> String {
        let client = try RuntimeTests.connect(runtime)
        defer { client.close() }
        _ = try RuntimeTests.readLine(client)
        try client.writeAll(Array("a1 LOGIN \(user) \(password)\r\n".utf8), deadline: .after(millis: 1000))
        return try RuntimeTests.readLine(client, millis: 5000)
    }

    static func cacheSettings(_ fake: CacheFakeServices, throttle: ThrottlePolicy = ThrottlePolicy()) -> AuthCacheSettings {
        AuthCacheSettings(path: fake.dir.appendingPathComponent("cache.db").path, throttle: throttle)
    }

    /// A repeated successful login is answered from the cache without a request to the auth service, and reaches the backend.
    @Test func repeatedLoginSkipsAuthService() throws {
        let fake = try CacheFakeServices()
        let runtime = try Self.start(fake, cache: Self.cacheSettings(fake))
        defer { runtime.fastStop() }
        #expect(try Self.login(runtime, "alice", "right") == "a1 OK logged in\r\n")
        #expect(fake.authRequests == 1)
        #expect(try Self.login(runtime, "alice", "right") == "a1 OK logged in\r\n")
        #expect(try Self.login(runtime, "alice", "right") == "a1 OK logged in\r\n")
        #expect(fake.authRequests == 1)
        // A wrong password is never answered from the cache.
        #expect(try Self.login(runtime, "alice", "wrong").hasPrefix("a1 NO"))
        #expect(fake.authRequests == 2)
    }

    /// With the cache off every login asks the auth service.
    @Test func cacheOffAlwaysAsks() throws {
        let fake = try CacheFakeServices()
        let runtime = try Self.start(fake, cache: nil)
        defer { runtime.fastStop() }
        for _ in 0..<3 { #expect(try Self.login(runtime, "alice", "right") == "a1 OK logged in\r\n") }
        #expect(fake.authRequests == 3)
    }

    /// Past the failure limit, attempts are refused without asking the auth service.
    @Test func throttledAttemptsDoNotReachAuthService() throws {
        let fake = try CacheFakeServices()
        let policy = ThrottlePolicy(maxFailures: 2, windowSeconds: 60, banSeconds: 60, delayMillis: 10)
        let runtime = try Self.start(fake, cache: Self.cacheSettings(fake, throttle: policy))
        defer { runtime.fastStop() }
        #expect(try Self.login(runtime, "mallory", "guess1").hasPrefix("a1 NO"))
        #expect(try Self.login(runtime, "mallory", "guess2").hasPrefix("a1 NO"))
        #expect(fake.authRequests == 2)
        #expect(try Self.login(runtime, "mallory", "right").hasPrefix("a1 NO"))
        #expect(try Self.login(runtime, "bob", "right").hasPrefix("a1 NO"), "the address is banned too")
        #expect(fake.authRequests == 2)
    }

    /// Finished sessions reach the ledger table with their outcome and whether the cache answered.
    @Test func sessionsReachTheLedger() throws {
        let fake = try CacheFakeServices()
        let settings = Self.cacheSettings(fake)
        let runtime = try Self.start(fake, cache: settings)
        #expect(try Self.login(runtime, "alice", "right") == "a1 OK logged in\r\n")
        #expect(try Self.login(runtime, "alice", "right") == "a1 OK logged in\r\n")
        #expect(try Self.login(runtime, "alice", "wrong").hasPrefix("a1 NO"))
        let shared = AuthCacheRegistry.process.shared(for: settings) { _, _ in }
        var rows: [String] = []
        for _ in 0..<40 where rows.count < 3 {
            usleep(100_000)
            let db = try SQLiteConnection(path: settings.path, busyTimeoutMillis: 1000)
            let s = try db.statement("SELECT outcome || ' ' || from_cache || ' ' || ifnull(login, '-') FROM sessions")
            rows = []
            while try s.step() { rows.append(s.text(0) ?? "") }
        }
        runtime.fastStop()
        #expect(rows.sorted() == ["proxied 0 alice", "proxied 1 alice", "rejected 0 alice"])
        #expect(shared.counters.hits.load(ordering: .relaxed) == 1)
    }
}
