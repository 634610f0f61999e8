import Glibc
import Synchronization
import Testing
@testable import Server

@Suite struct EngineSpliceTests {
    /// With splice, 1 MB each way over TCP arrives intact and is counted.
    @Test func megabyteBothWaysSpliced() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let h = try RelayHarness(engine: engine, options: RelayOptions(bufferSize: 16384, useSplice: true), overTCP: true)
        let up = randomBytes(1 << 20), down = randomBytes(1 << 20)
        let writers = [
            startThread(name: "s-up") { [up] in try? h.clientApp.writeAll(up, deadline: .after(millis: 10_000)); try? h.clientApp.shutdownWrite() },
            startThread(name: "s-down") { [down] in try? h.backendApp.writeAll(down, deadline: .after(millis: 10_000)); try? h.backendApp.shutdownWrite() },
        ]
        let gotDown = Mutex<[UInt8]>([])
        let reader = startThread(name: "s-read") { gotDown.withLock { $0 = (try? readAll(h.clientApp)) ?? [] } }
        let gotUp = try readAll(h.backendApp)
        reader.join()
        for w in writers { w.join() }
        #expect(gotUp.count == up.count && checksum(gotUp) == checksum(up))
        #expect(gotDown.withLock { $0.count == down.count && checksum($0) == checksum(down) })
        try waitUntil { h.stats != nil }
        #expect(h.stats?.bytesClientToBackend == UInt64(up.count))
        #expect(h.stats?.bytesBackendToClient == UInt64(down.count))
        #expect(engine.snapshot == RelaySnapshot(livePairs: 0, buffersInUse: 0, bufferedBytes: 0))
    }

    /// Spliced pairs over unix socketpairs work too, with short and interrupted splices injected.
    @Test func splicedSocketPairWithShortSplices() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let (clientApp, clientEnd) = try Socket.pair()
        let (backendEnd, backendApp) = try Socket.pair()
        SyscallMock.inject([.limit(1), .fail(.interrupted), .limit(5)], into: .splice, fd: clientEnd.fd)
        engine.add(client: SocketEndpoint(clientEnd), backend: SocketEndpoint(backendEnd),
                   options: RelayOptions(useSplice: true)) { _ in }
        let payload = randomBytes(200_000)
        let writer = startThread(name: "s-w") { [payload] in
            try? clientApp.writeAll(payload, deadline: .after(millis: 5000)); try? clientApp.shutdownWrite()
        }
        let got = try readAll(backendApp)
        writer.join()
        #expect(got.count == payload.count && checksum(got) == checksum(payload))
    }

    /// A stalled backend bounds what a spliced pair holds to one pipe.
    @Test func splicedBackPressure() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let h = try RelayHarness(engine: engine, options: RelayOptions(bufferSize: 16384, useSplice: true))
        let payload = randomBytes(4 << 20)
        let writer = startThread(name: "s-flood") { [payload] in
            try? h.clientApp.writeAll(payload, deadline: .after(millis: 20_000)); try? h.clientApp.shutdownWrite()
        }
        var peak = 0
        for _ in 0..<30 {
            sleepMillis(10)
            let s = engine.snapshot
            peak = max(peak, s.bufferedBytes)
            #expect(s.buffersInUse <= 2)
        }
        #expect(peak <= 16384)
        let got = try readAll(h.backendApp, millis: 20_000)
        writer.join()
        #expect(got.count == payload.count && checksum(got) == checksum(payload))
    }

    /// Idle spliced pairs hold no pipe.
    @Test func idleSplicedPairsHoldNoPipes() throws {
        let engine = try RelayEngine(threads: 2)
        defer { engine.stop() }
        var pairs: [RelayHarness] = []
        for _ in 0..<50 { pairs.append(try RelayHarness(engine: engine, options: RelayOptions(useSplice: true))) }
        for p in pairs {
            try p.clientApp.writeAll(Array("ping".utf8), deadline: .after(millis: 1000))
            #expect(try readAll(p.backendApp, limit: 4, millis: 2000) == Array("ping".utf8))
        }
        try waitUntil { engine.snapshot.buffersInUse == 0 }
        #expect(engine.snapshot == RelaySnapshot(livePairs: 50, buffersInUse: 0, bufferedBytes: 0))
    }
}
