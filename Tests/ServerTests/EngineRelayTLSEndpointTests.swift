import Glibc
import Synchronization
import Testing
@testable import Server

/// A socket endpoint that behaves as a TLS endpoint does in the two awkward
/// cases: a read that has taken the socket's bytes but must write before it
/// can return them (SSL_ERROR_WANT_WRITE), and a write that must read first
/// (SSL_ERROR_WANT_READ, e.g. a key update from the peer).
final class AwkwardEndpoint: RelayEndpoint {
    struct State {
        var stash: [UInt8] = []
        var readWaitsForWrite = false
        var writeWaitsForRead = false
        var writeAttempts = 0
        var firstWriteDone = false
        var firstReadDone = false
    }

    let socket: Socket
    let readWantsWrite: Bool
    let writeWantsRead: Bool
    let state = Mutex(State())

    init(_ socket: Socket, readWantsWrite: Bool = false, writeWantsRead: Bool = false) {
        self.socket = socket
        self.readWantsWrite = readWantsWrite
        self.writeWantsRead = writeWantsRead
        try? sysSetNonBlocking(socket.fd)
    }

    var fd: Int32 { socket.fd }
    var writeAttempts: Int { state.withLock { $0.writeAttempts } }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> RelayIO {
        state.withLock { s -> RelayIO in
            if s.readWaitsForWrite {
                // Poll said writable: the "write" is done, hand out what was taken.
                s.readWaitsForWrite = false
                let n = min(buffer.count, s.stash.count)
                buffer.copyMemory(from: UnsafeRawBufferPointer(start: s.stash, count: n))
                s.stash.removeFirst(n)
                return .transferred(n)
            }
            let result = plainRead(into: buffer)
            if readWantsWrite, !s.firstReadDone, case .transferred(let n) = result, n > 0 {
                s.firstReadDone = true
                s.stash = Array(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                s.readWaitsForWrite = true
                return .wouldBlock
            }
            return result
        }
    }

    func write(from buffer: UnsafeRawBufferPointer) -> RelayIO {
        state.withLock { s -> RelayIO in
            s.writeAttempts += 1
            if writeWantsRead && !s.firstWriteDone {
                if !s.writeWaitsForRead {
                    s.writeWaitsForRead = true
                    return .wouldBlock
                }
                // Only once the peer sent its byte may the write go on.
                var byte: UInt8 = 0
                let n = Glibc.read(socket.fd, &byte, 1)
                guard n == 1 else { return .wouldBlock }
                s.writeWaitsForRead = false
                s.firstWriteDone = true
            }
            do throws(Errno) {
                return .transferred(try socket.write(buffer))
            } catch {
                return error == .wouldBlock ? .wouldBlock : .failed(error)
            }
        }
    }

    private func plainRead(into buffer: UnsafeMutableRawBufferPointer) -> RelayIO {
        do throws(Errno) {
            let n = try socket.read(into: buffer)
            return n == 0 ? .endOfStream : .transferred(n)
        } catch {
            return error == .wouldBlock ? .wouldBlock : .failed(error)
        }
    }

    var hasBufferedInput: Bool { false }
    var needsPollOutToRead: Bool { state.withLock { $0.readWaitsForWrite } }
    var needsPollInToWrite: Bool { state.withLock { $0.writeWaitsForRead } }
    func shutdownWrite() { try? socket.shutdownWrite() }
    func close() { socket.close() }
}

@Suite struct EngineRelayTLSEndpointTests {
    /// A read that waits to write is retried when poll reports POLLOUT, so its bytes are delivered.
    @Test func readWaitingForWriteIsRetriedOnPollOut() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let (clientApp, clientEnd) = try Socket.pair()
        let (backendEnd, backendApp) = try Socket.pair()
        engine.add(client: AwkwardEndpoint(clientEnd, readWantsWrite: true), backend: SocketEndpoint(backendEnd),
                   options: RelayOptions()) { _ in }
        try clientApp.writeAll(Array("hello".utf8), deadline: .after(millis: 1000))
        guard case .bytes(let got) = try backendApp.readSome(max: 100, deadline: .after(millis: 2000)) else {
            Issue.record("the bytes held by the endpoint never reached the backend")
            return
        }
        #expect(got == Array("hello".utf8))
    }

    /// A write that waits to read polls for POLLIN only (no busy loop) and goes on once the peer sent bytes.
    @Test func writeWaitingForReadPollsForInputOnly() throws {
        let engine = try RelayEngine(threads: 1)
        defer { engine.stop() }
        let (clientApp, clientEnd) = try Socket.pair()
        let (backendEnd, backendApp) = try Socket.pair()
        let backend = AwkwardEndpoint(backendEnd, writeWantsRead: true)
        engine.add(client: SocketEndpoint(clientEnd), backend: backend, options: RelayOptions()) { _ in }
        try clientApp.writeAll(Array("x".utf8), deadline: .after(millis: 1000))
        sleepMillis(200)
        #expect(backend.writeAttempts <= 2)
        try backendApp.writeAll([0x2a], deadline: .after(millis: 1000))
        guard case .bytes(let got) = try backendApp.readSome(max: 100, deadline: .after(millis: 2000)) else {
            Issue.record("the write never went on")
            return
        }
        #expect(got == Array("x".utf8))
    }
}
