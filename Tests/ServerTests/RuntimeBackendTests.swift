import AuthCache
import Glibc
import Protocols
import Synchronization
import Testing
@testable import Server

/// The backend connect as the session sees it: the connect and the greeting
/// share one wait and one `timeout`, as in nginx, and a failure of either is
/// a temporary failure for the client and a clear log line.
@Suite struct RuntimeBackendTests {
    /// An auth service on its own thread that accepts every login for
    /// 127.0.0.1:`backendPort`, one connection per request.
    final class AcceptingAuthService: Sendable {
        let listener: Listener
        private let stopping = Atomic<Bool>(false)
        private let thread = Mutex<ThreadHandle?>(nil)

        init(backendPort: Int) throws {
            listener = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
            let listener = self.listener
            let reply = Array(("HTTP/1.1 200 OK\r\nAuth-Status: OK\r\nAuth-Server: 127.0.0.1\r\n"
                + "Auth-Port: \(backendPort)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").utf8)
            let handle = startThread(name: "test-auth") { [self] in
                while !stopping.load(ordering: .relaxed) {
                    guard (try? listener.socket.waitFor(events: Int16(POLLIN), deadline: .after(millis: 50))) == true
                    else { continue }
                    var storage = sockaddr_storage()
                    var length = socklen_t(0)
                    guard let fd = try? sysAccept4(listener.socket.fd, storage: &storage, length: &length,
                                                   flags: cnetSockFlags) else { continue }
                    let socket = Socket(adopting: fd, nonBlocking: true)
                    var request: [UInt8] = []
                    while !request.suffix(4).elementsEqual("\r\n\r\n".utf8),
                          case .bytes(let b)? = try? socket.readSome(max: 4096, deadline: .after(millis: 2000)) {
                        request += b
                    }
                    try? socket.writeAll(reply, deadline: .after(millis: 1000))
                    socket.close()
                }
            }
            thread.withLock { $0 = handle }
        }

        var port: Int { Int(listener.address.port!) }

        func stop() {
            stopping.store(true, ordering: .relaxed)
            thread.withLock { $0 }?.join()
            listener.close()
        }
    }

    private func start(authPort: Int, timeoutMillis: Int, logPath: String) throws -> Runtime {
        let plan = RuntimePlan(
            listeners: [ListenerPlan(address: .ip("127.0.0.1", port: 0)!,
                                     settings: RuntimeTests.settings(authPort: authPort, timeoutMillis: timeoutMillis))],
            logTargets: [], pidPath: nil, sessionThreads: 2, sessionQueue: 4)
        let log = try ErrorLog(targets: [LogTarget(.file(path: logPath), level: .info)])
        return try Runtime(plan: plan, log: log)
    }

    private func logIn(_ runtime: Runtime) throws -> (reply: String, closed: Bool) {
        let client = try RuntimeTests.connect(runtime)
        defer { client.close() }
        _ = try RuntimeTests.readLine(client)
        try client.writeAll(Array("a1 LOGIN bob secret\r\n".utf8), deadline: .after(millis: 1000))
        let reply = try RuntimeTests.readLine(client)
        return (reply, try client.readSome(max: 16, deadline: .after(millis: 3000)) == .endOfStream)
    }

    /// A backend that refuses: the client hears nginx's temporary failure, the
    /// log names the connect.
    @Test func refusedBackendIsAConnectFailure() throws {
        let path = engineTempPath("backend-refused.log")
        defer { unlink(path) }
        let auth = try AcceptingAuthService(backendPort: RuntimeTests.closedPort())
        defer { auth.stop() }
        let runtime = try start(authPort: auth.port, timeoutMillis: 2000, logPath: path)
        defer { runtime.fastStop() }
        let (reply, closed) = try logIn(runtime)
        #expect(reply == "* BAD internal server error\r\n")
        #expect(closed)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("connect() failed (111: Connection refused) while connecting to upstream"), "\(text)")
    }

    /// A backend that takes the connection but never greets is given up after
    /// `timeout`, counted from the connect, with the same temporary failure.
    @Test func silentBackendTimesOut() throws {
        let path = engineTempPath("backend-silent.log")
        defer { unlink(path) }
        // Never accepted: the kernel completes the handshake from the backlog, no greeting follows.
        let silent = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
        defer { silent.close() }
        let auth = try AcceptingAuthService(backendPort: Int(silent.address.port!))
        defer { auth.stop() }
        let runtime = try start(authPort: auth.port, timeoutMillis: 300, logPath: path)
        defer { runtime.fastStop() }
        let started = monotonicNanoseconds()
        let (reply, closed) = try logIn(runtime)
        #expect(reply == "* BAD internal server error\r\n")
        #expect(closed)
        let elapsed = monotonicNanoseconds() - started
        #expect(elapsed >= 250_000_000 && elapsed < 2_500_000_000)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("upstream timed out"), "\(text)")
    }
}
