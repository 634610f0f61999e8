import AuthCache
import Glibc
import Protocols
import Testing
@testable import Server

/// The runtime in-process, with no backend or auth service behind it: the
/// paths where Postern must answer by itself.
@Suite struct RuntimeTests {
    static func settings(authPort: Int, timeoutMillis: Int = 2000) -> ProxySettings {
        ProxySettings(mailProtocol: .imap, serverName: "mail.test", timeoutMillis: timeoutMillis,
                      authURL: try! AuthCache.AuthHTTPURL.parse("127.0.0.1:\(authPort)/auth").get(),
                      authTimeoutMillis: 1000, authHeaders: [], passErrorMessage: false,
                      relay: RelayOptions(), imap: IMAPSessionSettings())
    }

    static func start(threads: Int = 2, queue: Int = 4, timeoutMillis: Int = 2000) throws -> Runtime {
        let plan = RuntimePlan(
            listeners: [ListenerPlan(address: .ip("127.0.0.1", port: 0)!,
                                     settings: settings(authPort: closedPort(), timeoutMillis: timeoutMillis))],
            logTargets: [], pidPath: nil, sessionThreads: threads, sessionQueue: queue)
        return try Runtime(plan: plan, log: ErrorLog.stderr(level: .emerg))
    }

    /// A loopback port with nothing listening (bound, then closed).
    static func closedPort() -> Int {
        let listener = try! Listener.open(address: .ip("127.0.0.1", port: 0)!)
        let port = Int(listener.address.port!)
        listener.close()
        return port
    }

    static func connect(_ runtime: Runtime) throws -> Socket {
        try Socket.connect(to: runtime.boundAddresses[0], timeoutMillis: 1000)
    }

    static func readLine(_ socket: Socket, millis: Int = 3000) throws -> String {
        var got: [UInt8] = []
        let deadline = Deadline.after(millis: millis)
        while !got.contains(0x0A) {
            switch try socket.readSome(max: 512, deadline: deadline) {
            case .bytes(let b): got += b
            case .endOfStream, .timedOut: return String(decoding: got, as: UTF8.self)
            }
        }
        return String(decoding: got, as: UTF8.self)
    }

    /// The greeting and CAPABILITY come from Postern itself, before any auth.
    @Test func greetsAndAnswersCapability() throws {
        let runtime = try Self.start()
        defer { runtime.fastStop() }
        let client = try Self.connect(runtime)
        #expect(try Self.readLine(client) == "* OK IMAP4 ready\r\n")
        try client.writeAll(Array("a1 CAPABILITY\r\n".utf8), deadline: .after(millis: 1000))
        #expect(try Self.readLine(client).hasPrefix("* CAPABILITY IMAP4 IMAP4rev1 UIDPLUS AUTH=PLAIN"))
    }

    /// An auth service that is down gets the client a temporary failure and a closed connection, never a hang.
    @Test func authServiceDownIsATemporaryFailure() throws {
        let runtime = try Self.start()
        defer { runtime.fastStop() }
        let client = try Self.connect(runtime)
        _ = try Self.readLine(client)
        try client.writeAll(Array("a1 LOGIN bob secret\r\n".utf8), deadline: .after(millis: 1000))
        #expect(try Self.readLine(client) == "* BAD internal server error\r\n")
        #expect(try client.readSome(max: 16, deadline: .after(millis: 2000)) == .endOfStream)
    }

    /// A client that never speaks is closed after `timeout`.
    @Test func silentClientTimesOut() throws {
        let runtime = try Self.start(timeoutMillis: 300)
        defer { runtime.fastStop() }
        let client = try Self.connect(runtime)
        _ = try Self.readLine(client)
        let started = monotonicNanoseconds()
        #expect(try client.readSome(max: 16, deadline: .after(millis: 3000)) == .endOfStream)
        #expect(monotonicNanoseconds() - started < 2_000_000_000)
    }

    /// With every session thread busy and no queue, the next client hears "busy" and is closed.
    @Test func fullPoolRefusesWithBusyReply() throws {
        let runtime = try Self.start(threads: 1, queue: 0)
        defer { runtime.fastStop() }
        let first = try Self.connect(runtime)
        #expect(try Self.readLine(first) == "* OK IMAP4 ready\r\n")
        let second = try Self.connect(runtime)
        #expect(try Self.readLine(second) == String(decoding: MailProtocol.imap.serverBusyReply, as: UTF8.self))
        #expect(try second.readSome(max: 16, deadline: .after(millis: 2000)) == .endOfStream)
    }
}
