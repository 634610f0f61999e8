import Glibc
import Testing
@testable import Server

@Suite struct EngineSyscallTests {
    /// A write interrupted by EINTR twice is retried and delivers every byte.
    @Test func writeRetriesEINTR() throws {
        let (a, b) = try Socket.pair()
        SyscallMock.inject([.fail(.interrupted), .fail(.interrupted)], into: .write, fd: a.fd)
        try a.writeAll(Array("hello".utf8), deadline: .after(millis: 1000))
        #expect(SyscallMock.pending(.write, fd: a.fd) == 0)
        #expect(try b.readSome(max: 100, deadline: .after(millis: 1000)) == .bytes(Array("hello".utf8)))
    }

    /// Short writes are continued until the whole buffer is written.
    @Test func writeAllContinuesShortWrites() throws {
        let (a, b) = try Socket.pair()
        let payload = (0..<100).map { UInt8($0) }
        SyscallMock.inject([.limit(3), .limit(1), .fail(.interrupted), .limit(50)], into: .write, fd: a.fd)
        try a.writeAll(payload, deadline: .after(millis: 1000))
        #expect(SyscallMock.pending(.write, fd: a.fd) == 0)
        var got: [UInt8] = []
        while got.count < payload.count {
            guard case .bytes(let chunk) = try b.readSome(max: 1000, deadline: .after(millis: 1000)) else { break }
            got += chunk
        }
        #expect(got == payload)
    }

    /// A read interrupted by EINTR is retried; a short read limit returns fewer bytes.
    @Test func readRetriesEINTRAndHonoursLimit() throws {
        let (a, b) = try Socket.pair()
        try a.writeAll(Array("abcdef".utf8), deadline: .after(millis: 1000))
        SyscallMock.inject([.fail(.interrupted), .limit(2)], into: .read, fd: b.fd)
        #expect(try b.readSome(max: 100, deadline: .after(millis: 1000)) == .bytes(Array("ab".utf8)))
        #expect(try b.readSome(max: 100, deadline: .after(millis: 1000)) == .bytes(Array("cdef".utf8)))
    }

    /// An injected hard error is thrown as a typed Errno with strerror text.
    @Test func hardErrorIsTyped() throws {
        let (a, _) = try Socket.pair()
        SyscallMock.inject([.fail(.connectionReset)], into: .write, fd: a.fd)
        #expect(throws: Errno.connectionReset) { try a.writeAll([1], deadline: .after(millis: 100)) }
        #expect(Errno.connectionReset.description == "(104: Connection reset by peer)")
    }

    /// readSome reports a timeout when nothing arrives before the deadline, and EOF after the peer closes.
    @Test func readSomeTimeoutAndEOF() throws {
        let (a, b) = try Socket.pair()
        let start = monotonicNanoseconds()
        #expect(try b.readSome(max: 10, deadline: .after(millis: 50)) == .timedOut)
        #expect(monotonicNanoseconds() - start >= 45_000_000)
        a.close()
        #expect(try b.readSome(max: 10, deadline: .after(millis: 1000)) == .endOfStream)
    }

    /// writeAll throws .timedOut when the peer never reads.
    @Test func writeAllTimesOut() throws {
        let (a, _b) = try Socket.pair()
        let big = [UInt8](repeating: 7, count: 8 << 20)
        #expect(throws: Errno.timedOut) { try a.writeAll(big, deadline: .after(millis: 100)) }
        _ = _b
    }

    /// close is idempotent and the descriptor reads as -1 afterwards.
    @Test func closeIsIdempotent() throws {
        let (a, _) = try Socket.pair()
        a.close()
        a.close()
        #expect(a.isClosed && a.fd == -1)
    }
}
