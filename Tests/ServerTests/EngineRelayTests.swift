import Glibc
import Synchronization
import Testing
@testable import Server

/// The application ends of a relayed pair: what a mail client and a backend hold.
final class RelayHarness: Sendable {
    let engine: RelayEngine
    let clientApp: Socket
    let backendApp: Socket
    let closed: StatsRecorder

    init(engine: RelayEngine, options: RelayOptions = RelayOptions(), overTCP: Bool = false) throws {
        self.engine = engine
        let (clientApp, clientEnd) = overTCP ? try tcpPair() : try Socket.pair()
        let (backendEnd, backendApp) = overTCP ? try tcpPair() : try Socket.pair()
        self.clientApp = clientApp
        self.backendApp = backendApp
        let record = StatsRecorder()
        self.closed = record
        engine.add(client: SocketEndpoint(clientEnd), backend: SocketEndpoint(backendEnd), options: options) { stats in
            record.list.withLock { $0.append(stats) }
        }
    }

    var stats: RelayStats? { closed.list.withLock { $0.first } }
}

final class StatsRecorder: Sendable {
    let list = Mutex<[RelayStats]>([])
}

/// A connected TCP pair over 127.0.0.1.
func tcpPair() throws -> (Socket, Socket) {
    let l = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
    defer { l.close() }
    let a = try Socket.connect(to: l.address, timeoutMillis: 1000)
    _ = try l.socket.waitFor(events: Int16(POLLIN), deadline: .after(millis: 1000))
    var storage = sockaddr_storage(); var len = socklen_t(0)
    let fd = try sysAccept4(l.socket.fd, storage: &storage, length: &len, flags: cnetSockFlags)
    return (a, Socket(adopting: fd))
}

/// Reads until end of stream (or `limit` bytes), bounded by a deadline.
func readAll(_ s: Socket, limit: Int = .max, millis: Int = 10_000) throws -> [UInt8] {
    let deadline = Deadline.after(millis: millis)
    var out: [UInt8] = []
    while out.count < limit {
        switch try s.readSome(max: 65536, deadline: deadline) {
        case .bytes(let b): out += b
        case .endOfStream: return out
        case .timedOut: throw EngineTestTimeout()
        }
    }
    return out
}

func randomBytes(_ n: Int) -> [UInt8] {
    var g = SystemRandomNumberGenerator()
    return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
}

/// FNV-1a, enough to compare two megabytes.
func checksum(_ b: [UInt8]) -> UInt64 {
    b.reduce(14695981039346656037) { ($0 ^ UInt64($1)) &* 1099511628211 }
}

@Suite struct EngineRelayTests {
    /// 1 MB each way over TCP arrives intact, is counted, and half-closes end the pair.
    @Test func megabyteBothWaysOverTCP() throws {
        let engine = try RelayEngine(threads: 2)
        defer { engine.stop() }
        let h = try RelayHarness(engine: engine, options: RelayOptions(bufferSize: 16384), overTCP: true)
        let up = randomBytes(1 << 20), down = randomBytes(1 << 20)
        let writers = [
            startThread(name: "t-up") { [up] in try? h.clientApp.writeAll(up, deadline: .after(millis: 10_000)); try? h.clientApp.shutdownWrite() },
            startThread(name: "t-down") { [down] in try? h.backendApp.writeAll(down, deadline: .after(millis: 10_000)); try? h.backendApp.shutdownWrite() },
        ]
        let gotDown = Mutex<[UInt8]>([])
        let reader = startThread(name: "t-read") { gotDown.withLock { $0 = (try? readAll(h.clientApp)) ?? [] } }
        let gotUp = try readAll(h.backendApp)
        reader.join()
        for w in writers { w.join() }
        #expect(checksum(gotUp) == checksum(up) && gotUp.count == up.count)
        #expect(gotDown.withLock { checksum($0) == checksum(down) && $0.count == down.count })
        try waitUntil { h.stats != nil }
        let stats = try #require(h.stats)
        #expect(stats.bytesClientToBackend == UInt64(up.count))
        #expect(stats.bytesBackendToClient == UInt64(down.count))
        #expect(stats.reason == .closedBy(.client) || stats.reason == .closedBy(.backend))
        #expect(engine.snapshot == RelaySnapshot(livePairs: 0, buffersInUse: 0, bufferedBytes: 0))
    }

    /// Short writes and EINTR inside the relay lose no byte.
    @Test func shortWritesInsideRelay() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let (clientApp, clientEnd) = try Socket.pair()
        let (backendEnd, backendApp) = try Socket.pair()
        SyscallMock.inject([.limit(1), .fail(.interrupted), .limit(7), .limit(1000)], into: .write, fd: backendEnd.fd)
        SyscallMock.inject([.limit(3), .fail(.interrupted)], into: .read, fd: clientEnd.fd)
        engine.add(client: SocketEndpoint(clientEnd), backend: SocketEndpoint(backendEnd)) { _ in }
        let payload = randomBytes(100_000)
        try clientApp.writeAll(payload, deadline: .after(millis: 5000))
        try clientApp.shutdownWrite()
        #expect(try readAll(backendApp) == payload)
    }

    /// A backend that does not read stops the relay from reading the client: buffered bytes stay within one buffer per direction.
    @Test func backPressureBoundsMemory() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let bufferSize = 8192
        let h = try RelayHarness(engine: engine, options: RelayOptions(bufferSize: bufferSize))
        let payload = randomBytes(4 << 20)
        let wrote = Atomic<Bool>(false)
        let writer = startThread(name: "t-flood") { [payload] in
            try? h.clientApp.writeAll(payload, deadline: .after(millis: 20_000))
            try? h.clientApp.shutdownWrite()
            wrote.store(true, ordering: .relaxed)
        }
        // Let the writer fill every kernel buffer on the way.
        var peak = 0
        for _ in 0..<40 {
            sleepMillis(10)
            let s = engine.snapshot
            peak = max(peak, s.bufferedBytes)
            #expect(s.buffersInUse <= 2)
        }
        let finished = wrote.load(ordering: .relaxed)
        #expect(!finished, "the kernel should not hold 4 MB")
        #expect(peak <= bufferSize)
        let got = try readAll(h.backendApp, millis: 20_000)
        writer.join()
        #expect(got.count == payload.count && checksum(got) == checksum(payload))
    }

    /// EOF from the client reaches the backend as EOF while the backend can still answer; then the pair closes.
    @Test func halfClosePropagates() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let h = try RelayHarness(engine: engine)
        try h.clientApp.writeAll(Array("hello".utf8), deadline: .after(millis: 1000))
        try h.clientApp.shutdownWrite()
        #expect(try readAll(h.backendApp, millis: 2000) == Array("hello".utf8))
        #expect(h.stats == nil)
        try h.backendApp.writeAll(Array("reply".utf8), deadline: .after(millis: 1000))
        try h.backendApp.shutdownWrite()
        #expect(try readAll(h.clientApp, millis: 2000) == Array("reply".utf8))
        try waitUntil { h.stats != nil }
        #expect(h.stats?.reason == .closedBy(.client))
        #expect(h.stats?.bytesClientToBackend == 5 && h.stats?.bytesBackendToClient == 5)
    }

    /// Without half-close propagation (nginx's mail proxy), one side's EOF closes the pair after its bytes are delivered.
    @Test func nginxModeClosesOnFirstEOF() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let h = try RelayHarness(engine: engine, options: RelayOptions(propagateHalfClose: false))
        try h.backendApp.writeAll(Array("* BYE\r\n".utf8), deadline: .after(millis: 1000))
        h.backendApp.close()
        #expect(try readAll(h.clientApp, millis: 2000) == Array("* BYE\r\n".utf8))
        try waitUntil { h.stats != nil }
        #expect(h.stats?.reason == .closedBy(.backend))
    }

    /// proxy_timeout closes a pair on which nothing moves either way.
    @Test func idleTimeoutCloses() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let h = try RelayHarness(engine: engine, options: RelayOptions(idleTimeoutMillis: 150))
        // Traffic keeps it open past one timeout...
        for _ in 0..<4 {
            try h.clientApp.writeAll([1], deadline: .after(millis: 1000))
            #expect(try readAll(h.backendApp, limit: 1, millis: 1000) == [1])
            sleepMillis(60)
        }
        #expect(h.stats == nil)
        // ...silence closes it.
        #expect(try readAll(h.clientApp, millis: 2000) == [])
        try waitUntil { h.stats != nil }
        #expect(h.stats?.reason == .idleTimeout)
        #expect(h.stats.map { $0.duration >= .milliseconds(300) } == true, "\(String(describing: h.stats))")
    }

    /// 500 idle pairs on 2 relay threads hold no buffers, and still relay when woken.
    @Test func manyIdlePairsHoldNoBuffers() throws {
        let engine = try RelayEngine(threads: 2)
        defer { engine.stop() }
        var pairs: [RelayHarness] = []
        for _ in 0..<500 { pairs.append(try RelayHarness(engine: engine, options: RelayOptions(bufferSize: 65536))) }
        try waitUntil { engine.livePairs == 500 }
        // Traffic through some pairs, then idle again.
        for i in stride(from: 0, to: 500, by: 50) {
            try pairs[i].clientApp.writeAll(Array("a\(i)".utf8), deadline: .after(millis: 1000))
            #expect(try readAll(pairs[i].backendApp, limit: "a\(i)".utf8.count, millis: 2000) == Array("a\(i)".utf8))
            try pairs[i].backendApp.writeAll(Array("b".utf8), deadline: .after(millis: 1000))
            #expect(try readAll(pairs[i].clientApp, limit: 1, millis: 2000) == Array("b".utf8))
        }
        try waitUntil { engine.snapshot.buffersInUse == 0 }
        #expect(engine.snapshot == RelaySnapshot(livePairs: 500, buffersInUse: 0, bufferedBytes: 0))
        engine.closeAll()
        try waitUntil { engine.livePairs == 0 }
        #expect(pairs.allSatisfy { $0.stats?.reason == .stopped })
        #expect(try readAll(pairs[7].clientApp, millis: 1000) == [])
    }

    /// After stop, a new pair is closed at once and reported as stopped.
    @Test func addAfterStop() throws {
        let engine = try RelayEngine(threads: 1)
        engine.stop()
        let h = try RelayHarness(engine: engine)
        #expect(h.stats?.reason == .stopped)
        #expect(try readAll(h.clientApp, millis: 1000) == [])
    }

    /// A reset from the backend ends the pair with the backend's error.
    @Test func backendResetIsReported() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let h = try RelayHarness(engine: engine, overTCP: true)
        // SO_LINGER 0 makes close send RST.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(h.backendApp.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        h.backendApp.close()
        try waitUntil { h.stats != nil }
        let reason = h.stats?.reason
        #expect(reason == .failed(.backend, .connectionReset) || reason == .closedBy(.backend), "\(String(describing: reason))")
    }
}
