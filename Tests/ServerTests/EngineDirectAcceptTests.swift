import Dispatch
import Glibc
import Synchronization
import Testing
@testable import Server

/// Idle session workers accepting for themselves, with the accept loop
/// stepping in (queue or "busy") only while none is idle.
@Suite struct EngineDirectAcceptTests {
    /// A pool and an accept loop wired as the runtime wires them. Each session
    /// writes `greeting` after `gate` lets it (when given) and closes; the
    /// loop's hand-over queues, or answers "busy" when the pool is full.
    final class Counts: Sendable {
        let direct = Atomic<Int>(0)
        let queued = Atomic<Int>(0)
        let refused = Atomic<Int>(0)
    }

    final class Rig: Sendable {
        let pool: SessionPool<FakeWorkerHandle>
        let loop: AcceptLoop
        let counts = Counts()

        init(threads: Int, queue: Int, log: ErrorLog? = nil, gate: DispatchSemaphore? = nil) throws {
            let pool = try SessionPool<FakeWorkerHandle>(threads: threads, queueCapacity: queue) { FakeWorkerHandle() }
            self.pool = pool
            let job: @Sendable (Socket) -> SessionPool<FakeWorkerHandle>.Job = { socket in
                { _ in
                    gate?.wait()
                    try? socket.writeAll(Array("hi".utf8), deadline: .after(millis: 1000))
                    socket.close()
                }
            }
            let counts = self.counts
            let loop = try AcceptLoop(log: log, pauseMillis: 100, direct: pool.directAcceptors) { socket, _ in
                if pool.submit(job(socket)) {
                    counts.queued.add(1, ordering: .relaxed)
                } else {
                    counts.refused.add(1, ordering: .relaxed)
                    try? socket.writeAll(Array("busy".utf8), deadline: .after(millis: 1000))
                    socket.close()
                }
            }
            self.loop = loop
            pool.acceptDirectly({ id in
                loop.takeDirect(listenerID: id).map { socket in
                    counts.direct.add(1, ordering: .relaxed)
                    return job(socket)
                }
            }, idleChanged: { loop.idleWorkersChanged() })
            loop.start()
        }

        func stop() {
            loop.stop()
            pool.stop()
        }

        /// A loopback listener added to the loop, once every worker is idle and the loop has stepped back.
        func listen(id: Int) throws -> Listener {
            let l = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
            loop.add(l, id: id)
            try waitUntil { pool.idleWorkers == pool.threadCount && !loop.pollsListeners }
            return l
        }
    }

    private func read(_ socket: Socket) throws -> String {
        guard case .bytes(let b) = try socket.readSome(max: 16, deadline: .after(millis: 3000)) else { return "" }
        return String(decoding: b, as: UTF8.self)
    }

    /// While workers are idle, each connection is taken by a worker; the accept
    /// loop's hand-over never runs.
    @Test func idleWorkerAcceptsItself() throws {
        let rig = try Rig(threads: 2, queue: 4)
        defer { rig.stop() }
        let l = try rig.listen(id: 3)
        defer { l.close() }
        for _ in 0..<5 {
            let c = try Socket.connect(to: l.address, timeoutMillis: 1000)
            #expect(try read(c) == "hi")
            c.close()
            // Back to idle before the next: a connection that comes while the only
            // idle worker is waking may be the loop's (queued), which is fine.
            try waitUntil { rig.pool.idleWorkers == 2 && !rig.loop.pollsListeners }
        }
        #expect(rig.counts.direct.load(ordering: .relaxed) == 5)
        #expect(rig.counts.queued.load(ordering: .relaxed) == 0)
        #expect(rig.loop.accepted == 5)
    }

    /// With the only worker busy, the loop queues the next connection and
    /// refuses the one after (threads and queue full); the queued one runs
    /// when the worker is free.
    @Test func loopQueuesAndRefusesWhenNoWorkerIsIdle() throws {
        let gate = DispatchSemaphore(value: 0)
        let rig = try Rig(threads: 1, queue: 1, gate: gate)
        defer { rig.stop() }
        let l = try rig.listen(id: 1)
        defer { l.close() }
        let a = try Socket.connect(to: l.address, timeoutMillis: 1000)
        try waitUntil { rig.pool.busy == 1 && rig.pool.idleWorkers == 0 && rig.loop.pollsListeners }
        let b = try Socket.connect(to: l.address, timeoutMillis: 1000)
        try waitUntil { rig.counts.queued.load(ordering: .relaxed) == 1 }
        let c = try Socket.connect(to: l.address, timeoutMillis: 1000)
        #expect(try read(c) == "busy")
        gate.signal()
        gate.signal()
        #expect(try read(a) == "hi")
        #expect(try read(b) == "hi")
        #expect(rig.counts.direct.load(ordering: .relaxed) == 1)
        #expect(rig.counts.refused.load(ordering: .relaxed) == 1)
        // Idle again: the loop steps back and the next connection is the worker's own.
        try waitUntil { rig.pool.idleWorkers == 1 && !rig.loop.pollsListeners }
        let d = try Socket.connect(to: l.address, timeoutMillis: 1000)
        gate.signal()
        #expect(try read(d) == "hi")
        #expect(rig.counts.direct.load(ordering: .relaxed) == 2, "queued \(rig.counts.queued.load(ordering: .relaxed)) accepted \(rig.loop.accepted) idle \(rig.pool.idleWorkers) busy \(rig.pool.busy)")
    }

    /// A removed listener is not accepted from, by workers or by the loop.
    @Test func removedListenerIsLeftAlone() throws {
        let rig = try Rig(threads: 2, queue: 2)
        defer { rig.stop() }
        let l = try rig.listen(id: 5)
        defer { l.close() }
        let first = try Socket.connect(to: l.address, timeoutMillis: 1000)
        #expect(try read(first) == "hi")
        #expect(rig.loop.remove(id: 5) === l)
        _ = try Socket.connect(to: l.address, timeoutMillis: 1000)  // sits in the backlog
        sleepMillis(100)
        #expect(rig.loop.accepted == 1)
    }

    /// A worker's accept that runs out of descriptors pauses accepting, logs
    /// once, and the listener is armed again after the pause.
    @Test func workerEMFILEPausesThenResumes() throws {
        let path = engineTempPath("direct-emfile.log")
        defer { unlink(path) }
        let log = try ErrorLog(targets: [LogTarget(.file(path: path), level: .info)])
        let rig = try Rig(threads: 2, queue: 2, log: log)
        defer { rig.stop() }
        let l = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
        defer { l.close() }
        SyscallMock.inject([.fail(.tooManyOpenFiles)], into: .accept, fd: l.socket.fd)
        rig.loop.add(l, id: 2)
        try waitUntil { rig.pool.idleWorkers == 2 }
        let start = monotonicNanoseconds()
        let c = try Socket.connect(to: l.address, timeoutMillis: 1000)
        #expect(try read(c) == "hi")
        #expect(monotonicNanoseconds() - start >= 90_000_000)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.components(separatedBy: "too many open files").count == 2)
    }
}
