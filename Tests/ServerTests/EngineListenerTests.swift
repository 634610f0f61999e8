import Foundation
import Glibc
import Synchronization
import Testing
@testable import Server

/// A unique path in /tmp short enough for sun_path.
func engineTempPath(_ suffix: String) -> String {
    "/tmp/postern-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(suffix)"
}

@Suite struct EngineListenerTests {
    /// A listener on 127.0.0.1 port 0 gets a real port and accepts a connect.
    @Test func ipv4PortZero() throws {
        let l = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
        defer { l.close() }
        #expect(l.address.port != 0)
        let c = try Socket.connect(to: l.address, timeoutMillis: 1000)
        #expect(c.peerAddress == l.address)
        #expect(try l.socket.option(level: SOL_SOCKET, name: SO_REUSEADDR) == 1)
    }

    /// A listener on ::1 is IPv6-only by default.
    @Test func ipv6Loopback() throws {
        let l = try Listener.open(address: .ip("::1", port: 0)!)
        defer { l.close() }
        #expect(l.address.description.hasPrefix("[::1]:"))
        #expect(try l.socket.option(level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY) == 1)
        _ = try Socket.connect(to: l.address, timeoutMillis: 1000)
    }

    /// A stale unix socket file is replaced, the new one is 0666, and close removes it.
    @Test func unixPathReplacesStaleSocket() throws {
        let path = engineTempPath("l.sock")
        let first = try Listener.open(address: .unix(path: path))
        first.socket.close()  // leave the file behind, as a crashed process would
        let l = try Listener.open(address: .unix(path: path))
        var st = stat()
        #expect(stat(path, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o666)
        _ = try Socket.connect(to: .unix(path: path), timeoutMillis: 1000)
        l.close()
        #expect(access(path, F_OK) != 0)
    }

    /// Options from the listen directive land on the socket.
    @Test func options() throws {
        let l = try Listener.open(address: .ip("127.0.0.1", port: 0)!, backlog: 16, receiveBuffer: 65536,
                                  keepAlive: .timers(idle: 30, interval: 10, count: 3))
        defer { l.close() }
        #expect(try l.socket.option(level: SOL_SOCKET, name: SO_KEEPALIVE) == 1)
        #expect(try l.socket.option(level: Int32(IPPROTO_TCP), name: TCP_KEEPIDLE) == 30)
        #expect(try l.socket.option(level: SOL_SOCKET, name: SO_RCVBUF) >= 65536)
    }

    /// Connecting to a closed port fails fast with ECONNREFUSED.
    @Test func connectRefused() throws {
        let l = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
        let address = l.address
        l.close()
        #expect(throws: Errno.connectionRefused) { try Socket.connect(to: address, timeoutMillis: 1000) }
    }
}

@Suite struct EngineAcceptLoopTests {
    /// The loop hands an accepted connection and its listener id to the handler.
    @Test func handsOverConnection() throws {
        let got = Mutex<[(Int, String?)]>([])
        let loop = try AcceptLoop(log: nil) { socket, id in
            got.withLock { $0.append((id, socket.peerAddress?.description)) }
            try? socket.writeAll(Array("hi".utf8), deadline: .after(millis: 1000))
        }
        let l = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
        defer { l.close() }
        loop.add(l, id: 7)
        loop.start()
        defer { loop.stop() }
        let c = try Socket.connect(to: l.address, timeoutMillis: 1000)
        #expect(try c.readSome(max: 10, deadline: .after(millis: 2000)) == .bytes(Array("hi".utf8)))
        let entries = got.withLock { $0 }
        #expect(entries.count == 1)
        #expect(entries.first?.0 == 7)
        #expect(entries.first?.1 == c.localAddress?.description)
    }

    /// Listeners added and removed while the loop runs take effect.
    @Test func addRemoveWhileRunning() throws {
        let count = Atomic<Int>(0)
        let loop = try AcceptLoop(log: nil) { socket, _ in count.add(1, ordering: .relaxed); socket.close() }
        loop.start()
        defer { loop.stop() }
        let a = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
        let b = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
        defer { a.close(); b.close() }
        loop.add(a, id: 1)
        loop.add(b, id: 2)
        _ = try Socket.connect(to: a.address, timeoutMillis: 1000)
        _ = try Socket.connect(to: b.address, timeoutMillis: 1000)
        try waitUntil { count.load(ordering: .relaxed) == 2 }
        #expect(loop.remove(id: 1) === a)
        #expect(loop.listenerIDs == [2])
        _ = try Socket.connect(to: a.address, timeoutMillis: 1000)  // sits in the backlog, never accepted
        _ = try Socket.connect(to: b.address, timeoutMillis: 1000)
        try waitUntil { count.load(ordering: .relaxed) == 3 }
        sleepMillis(50)
        #expect(count.load(ordering: .relaxed) == 3)
    }

    /// EMFILE pauses accepting and logs once; accepting resumes after the pause.
    @Test func pausesOnEMFILE() throws {
        let path = engineTempPath("emfile.log")
        defer { unlink(path) }
        let log = try ErrorLog(targets: [LogTarget(.file(path: path), level: .info)])
        let count = Atomic<Int>(0)
        let loop = try AcceptLoop(log: log, pauseMillis: 100) { socket, _ in count.add(1, ordering: .relaxed); socket.close() }
        let l = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
        defer { l.close() }
        SyscallMock.inject([.fail(.tooManyOpenFiles)], into: .accept, fd: l.socket.fd)
        loop.add(l, id: 1)
        loop.start()
        defer { loop.stop() }
        let start = monotonicNanoseconds()
        _ = try Socket.connect(to: l.address, timeoutMillis: 1000)
        try waitUntil { count.load(ordering: .relaxed) == 1 }
        #expect(monotonicNanoseconds() - start >= 90_000_000)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.components(separatedBy: "too many open files").count == 2)
        #expect(text.contains("[alert]"))
    }
}

/// Polls `condition` every 5 ms for up to `millis`; fails the test on timeout.
func waitUntil(millis: Int = 3000, _ condition: () -> Bool) throws {
    let deadline = Deadline.after(millis: millis)
    while !condition() {
        if deadline.hasPassed { throw EngineTestTimeout() }
        sleepMillis(5)
    }
}

struct EngineTestTimeout: Error {}

@Suite struct EngineConnectTests {
    /// A connect that gets no answer (the listener's backlog is full) gives up at its timeout.
    @Test func connectTimesOut() throws {
        let l = try Listener.open(address: .ip("127.0.0.1", port: 0)!, backlog: 0)
        defer { l.close() }
        var held: [Socket] = []
        var timedOut = false
        for _ in 0..<8 {
            let start = monotonicNanoseconds()
            do {
                held.append(try Socket.connect(to: l.address, timeoutMillis: 200))
            } catch {
                let e = error
                #expect(e == .timedOut)
                #expect(monotonicNanoseconds() - start >= 190_000_000)
                timedOut = true
                break
            }
        }
        #expect(timedOut)
    }

    /// closeAfter closes the socket when the body returns.
    @Test func closeAfterCloses() throws {
        let (a, _) = try Socket.pair()
        let fd = a.closeAfter { $0.fd }
        #expect(fd >= 0 && a.isClosed)
    }
}
