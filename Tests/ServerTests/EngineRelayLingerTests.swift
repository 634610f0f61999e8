import Glibc
import Synchronization
import Testing
@testable import Server

/// The session thread's linger before a relay thread takes a pair (`RelayEngine.add(..., local:)`).
@Suite struct EngineRelayLingerTests {
    /// A pair that ends within the linger is relayed and closed on the calling thread, with its stats.
    @Test func shortSessionEndsOnCallingThread() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let (clientApp, clientEnd) = try Socket.pair()
        let (backendEnd, backendApp) = try Socket.pair()
        // The peers act before the hand-over, so the calling thread serves everything.
        try clientApp.writeAll(Array("a LOGOUT\r\n".utf8), deadline: .after(millis: 1000))
        try backendApp.writeAll(Array("* BYE\r\n".utf8), deadline: .after(millis: 1000))
        try backendApp.shutdownWrite()
        try clientApp.shutdownWrite()
        let recorded = StatsRecorder()
        let local = RelayLocal()
        engine.add(client: SocketEndpoint(clientEnd), backend: SocketEndpoint(backendEnd),
                   options: RelayOptions(lingerMillis: 5000), local: local) { stats in
            recorded.list.withLock { $0.append(stats) }
        }
        // add() returned: the pair is already finished here, not on a relay thread.
        let stats = try #require(recorded.list.withLock { $0.first })
        #expect(stats.bytesClientToBackend == 10)
        #expect(stats.bytesBackendToClient == 7)
        #expect(engine.livePairs == 0)
        #expect(try readAll(backendApp) == Array("a LOGOUT\r\n".utf8))
        #expect(try readAll(clientApp) == Array("* BYE\r\n".utf8))
    }

    /// A pair still open after the linger goes to a relay thread, which keeps relaying it.
    @Test func idlePairIsHandedOver() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let (clientApp, clientEnd) = try Socket.pair()
        let (backendEnd, backendApp) = try Socket.pair()
        let recorded = StatsRecorder()
        let local = RelayLocal()
        try clientApp.writeAll(Array("x".utf8), deadline: .after(millis: 1000))
        engine.add(client: SocketEndpoint(clientEnd), backend: SocketEndpoint(backendEnd),
                   options: RelayOptions(useSplice: true, lingerMillis: 30), local: local) { stats in
            recorded.list.withLock { $0.append(stats) }
        }
        #expect(recorded.list.withLock { $0.isEmpty })
        #expect(engine.livePairs == 1)
        #expect(try readAll(backendApp, limit: 1, millis: 2000) == Array("x".utf8))
        // Now on the relay thread.
        try backendApp.writeAll(Array("reply".utf8), deadline: .after(millis: 1000))
        #expect(try readAll(clientApp, limit: 5, millis: 2000) == Array("reply".utf8))
        try clientApp.shutdownWrite()
        try backendApp.shutdownWrite()
        _ = try readAll(clientApp, millis: 2000)
        let deadline = Deadline.after(millis: 5000)
        while recorded.list.withLock({ $0.isEmpty }) && !deadline.hasPassed { sleepMillis(5) }
        let stats = try #require(recorded.list.withLock { $0.first })
        #expect(stats.bytesClientToBackend == 1)
        #expect(stats.bytesBackendToClient == 5)
        #expect(engine.livePairs == 0)
    }

    /// A pair with bytes stuck in flight (a reader that does not read) is handed over when the linger ends, bytes and all.
    @Test func busyPairIsHandedOverWithItsBytes() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let (clientApp, clientEnd) = try tcpPair()
        let (backendEnd, backendApp) = try tcpPair()
        let recorded = StatsRecorder()
        let payload = randomBytes(4 << 20)
        let writer = startThread(name: "t-write") { [payload] in
            try? clientApp.writeAll(payload, deadline: .after(millis: 20_000))
            try? clientApp.shutdownWrite()
        }
        // Nobody reads the backend side yet: the calling thread cannot finish the pair.
        engine.add(client: SocketEndpoint(clientEnd), backend: SocketEndpoint(backendEnd),
                   options: RelayOptions(idleTimeoutMillis: 20_000, useSplice: true, splicePipeSize: 65536,
                                         lingerMillis: 30),
                   local: RelayLocal()) { stats in
            recorded.list.withLock { $0.append(stats) }
        }
        #expect(recorded.list.withLock { $0.isEmpty })
        let received = try readAll(backendApp, limit: payload.count, millis: 20_000)
        writer.join()
        #expect(checksum(received) == checksum(payload))
        try backendApp.shutdownWrite()
        _ = try readAll(clientApp, millis: 5000)
        let deadline = Deadline.after(millis: 5000)
        while recorded.list.withLock({ $0.isEmpty }) && !deadline.hasPassed { sleepMillis(5) }
        #expect(recorded.list.withLock { $0.first?.bytesClientToBackend } == UInt64(payload.count))
    }

    /// With a linger of 0 the pair goes straight to a relay thread.
    @Test func zeroLingerHandsOverAtOnce() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let h = (try Socket.pair(), try Socket.pair())
        let recorded = StatsRecorder()
        engine.add(client: SocketEndpoint(h.0.1), backend: SocketEndpoint(h.1.0),
                   options: RelayOptions(lingerMillis: 0), local: RelayLocal()) { stats in
            recorded.list.withLock { $0.append(stats) }
        }
        try h.0.0.writeAll(Array("ping".utf8), deadline: .after(millis: 1000))
        #expect(try readAll(h.1.1, limit: 4, millis: 2000) == Array("ping".utf8))
        h.0.0.close()
        h.1.1.close()
        let deadline = Deadline.after(millis: 5000)
        while recorded.list.withLock({ $0.isEmpty }) && !deadline.hasPassed { sleepMillis(5) }
        #expect(recorded.list.withLock { $0.count } == 1)
    }
}
