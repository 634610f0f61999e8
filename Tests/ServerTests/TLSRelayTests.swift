import Glibc
import Synchronization
import Testing
@testable import Server

/// Drives one TLS stream both ways with its non-blocking RelayEndpoint calls
/// (one thread: an SSL must not be used by two threads at once): sends `send`
/// in `chunk`-byte records, then close_notify, and reads until end of stream.
func pumpTLS(_ s: TLSStream, send: [UInt8], chunk: Int, readBuffer: Int, millis: Int = 120_000) -> (received: [UInt8], failure: String?) {
    var sent = 0, received: [UInt8] = [], readDone = false, writeDone = false, failure: String?
    let deadline = Deadline.after(millis: millis)
    var buffer = [UInt8](repeating: 0, count: readBuffer)
    while !(readDone && writeDone) {
        if deadline.hasPassed { return (received, "timed out: sent \(sent), received \(received.count)") }
        var progressed = false
        if !writeDone {
            if sent == send.count {
                s.shutdownWrite()
                writeDone = true
                progressed = true
            } else {
                let end = min(sent + chunk, send.count)
                switch send.withUnsafeBytes({ s.write(from: UnsafeRawBufferPointer(rebasing: $0[sent..<end])) }) {
                case .transferred(let n): sent += n; progressed = true
                case .wouldBlock: break
                case .endOfStream: writeDone = true; failure = "write end of stream"
                case .failed(let e): writeDone = true; failure = "write \(e)"
                }
            }
        }
        if !readDone {
            switch buffer.withUnsafeMutableBytes({ s.read(into: $0) }) {
            case .transferred(let n): received += buffer[0..<n]; progressed = true
            case .wouldBlock: break
            case .endOfStream: readDone = true
            case .failed(let e): readDone = true; failure = "read \(e)"
            }
        }
        if !progressed && !s.hasBufferedInput {
            var events = Int16(POLLIN)
            if !writeDone || s.needsPollOutToRead { events |= Int16(POLLOUT) }
            _ = try? s.socket.waitFor(events: events, deadline: .after(millis: 50))
        }
    }
    // A close_notify that met a full send buffer is still pending (it goes out on
    // a later read or at close): flush it, or the relay never sees this side end.
    while s.needsPollOutToRead {
        if deadline.hasPassed { return (received, "timed out flushing close_notify") }
        _ = buffer.withUnsafeMutableBytes { s.read(into: $0) }
        if s.needsPollOutToRead { _ = try? s.socket.waitFor(events: Int16(POLLOUT), deadline: .after(millis: 50)) }
    }
    return (received, failure)
}

@Suite struct TLSRelayTests {
    /// Relays 1 MiB each way between a TLS client and a plain backend through the
    /// relay engine, intact, ending by close_notify and half-closes.
    static func relayBothWays(relayBuffer: Int, clientChunk: Int, clientReadBuffer: Int, size: Int = 1 << 20) throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let (server, client) = try tlsConnected(server: try tlsContextSet(tlsServerSettings()), client: try tlsClient())
        let (backendEnd, backendApp) = try Socket.pair()
        let closed = StatsRecorder()
        engine.add(client: server, backend: SocketEndpoint(backendEnd), options: RelayOptions(bufferSize: relayBuffer)) { stats in
            closed.list.withLock { $0.append(stats) }
        }
        let up = randomBytes(size), down = randomBytes(size)
        let backendWriter = startThread(name: "tls-backend-w") { [down] in
            try? backendApp.writeAll(down, deadline: .after(millis: 120_000))
            try? backendApp.shutdownWrite()
        }
        let gotUp = Mutex<[UInt8]>([])
        let backendReader = startThread(name: "tls-backend-r") { gotUp.withLock { $0 = (try? readAll(backendApp, millis: 120_000)) ?? [] } }
        let result = pumpTLS(client, send: up, chunk: clientChunk, readBuffer: clientReadBuffer)
        backendWriter.join()
        backendReader.join()
        #expect(result.failure == nil)
        #expect(result.received.count == down.count && checksum(result.received) == checksum(down))
        let upReceived = gotUp.withLock { $0 }
        #expect(upReceived.count == up.count && checksum(upReceived) == checksum(up))
        client.close()
        backendApp.close()
        #expect(engine.waitUntilEmpty(until: .after(millis: 5000)))
        let stats = try #require(closed.list.withLock { $0.first })
        #expect(stats.bytesClientToBackend == UInt64(up.count) && stats.bytesBackendToClient == UInt64(down.count))
    }

    /// Large records both ways with a relay buffer far smaller than a record, so plaintext waits in SSL_pending.
    @Test func megabyteWithSmallRelayBuffer() throws {
        try Self.relayBothWays(relayBuffer: 1000, clientChunk: 64 * 1024, clientReadBuffer: 65536)
    }

    /// Many small records from the client and a small client read buffer: 256 KiB
    /// each way is over 4,000 records (a megabyte took minutes in a loaded full run).
    @Test func smallRecordsIntact() throws {
        try Self.relayBothWays(relayBuffer: 16 * 1024, clientChunk: 61, clientReadBuffer: 700, size: 256 * 1024)
    }

    /// TLS on both legs (client TLS, backend TLS as proxy_ssl): 1 MiB each way arrives intact.
    @Test func tlsToTLS() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let (clientEnd, clientApp) = try tlsConnected(server: try tlsContextSet(tlsServerSettings()), client: try tlsClient())
        let (backendApp, backendEnd) = try tlsConnected(server: try tlsContextSet(tlsServerSettings([("backend.pem", "backend.key")])), client: try tlsClient())
        engine.add(client: clientEnd, backend: backendEnd, options: RelayOptions(bufferSize: 4096)) { _ in }
        let up = randomBytes(1 << 20), down = randomBytes(1 << 20)
        let backendResult = Mutex<([UInt8], String?)>(([], nil))
        let backend = startThread(name: "tls-backend") { [down] in
            let r = pumpTLS(backendApp, send: down, chunk: 10_000, readBuffer: 5000)
            backendResult.withLock { $0 = (r.received, r.failure) }
        }
        let r = pumpTLS(clientApp, send: up, chunk: 3000, readBuffer: 20_000)
        backend.join()
        #expect(r.failure == nil && checksum(r.received) == checksum(down) && r.received.count == down.count)
        let (gotUp, failure) = backendResult.withLock { $0 }
        #expect(failure == nil && checksum(gotUp) == checksum(up) && gotUp.count == up.count)
        clientApp.close(); backendApp.close()
        #expect(engine.waitUntilEmpty(until: .after(millis: 5000)))
    }

    /// hasBufferedInput reports decrypted bytes OpenSSL holds after a short read.
    @Test func bufferedInputVisible() throws {
        let (server, client) = try tlsConnected(server: try tlsContextSet(tlsServerSettings()), client: try tlsClient())
        defer { server.close(); client.close() }
        try client.writeAll([UInt8](repeating: 7, count: 5000), deadline: .after(millis: 2000))
        _ = try server.socket.waitFor(events: Int16(POLLIN), deadline: .after(millis: 2000))
        var small = [UInt8](repeating: 0, count: 100)
        var first = RelayIO.wouldBlock
        for _ in 0..<100 {
            first = small.withUnsafeMutableBytes { server.read(into: $0) }
            if first != .wouldBlock { break }
            _ = try server.socket.waitFor(events: Int16(POLLIN), deadline: .after(millis: 100))
        }
        #expect(first == .transferred(100))
        #expect(server.hasBufferedInput)
        #expect(server.spliceDescriptor == nil)
        server.close()
        server.close()
        #expect(!server.hasBufferedInput)
    }
}
