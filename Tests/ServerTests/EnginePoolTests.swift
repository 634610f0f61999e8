import Dispatch
import Glibc
import Synchronization
import Testing
@testable import Server

/// Non-Sendable per-worker state, as an auth_http handle would be.
final class FakeWorkerHandle {
    let thread = pthread_self()
    var uses = 0
}

@Suite struct EnginePoolTests {
    /// When every thread is busy and the queue is full, submit returns false.
    @Test func fullPoolRefuses() throws {
        let gate = DispatchSemaphore(value: 0)
        let pool = try SessionPool<Int>(threads: 2, queueCapacity: 3) { 0 }
        for _ in 0..<5 { #expect(pool.submit { _ in gate.wait() }) }
        #expect(!pool.submit { _ in })
        try waitUntil { pool.counts == (2, 3) }
        for _ in 0..<5 { gate.signal() }
        #expect(pool.drain(until: .after(millis: 3000)))
        #expect(pool.submit { _ in })
        pool.stop()
    }

    /// Each worker makes its state once on its own thread and every job on that thread reuses it.
    @Test func perWorkerStateIsReused() throws {
        let made = Atomic<Int>(0)
        let seen = Mutex<[String]>([])
        let pool = try SessionPool<FakeWorkerHandle>(threads: 3, queueCapacity: 100) {
            made.add(1, ordering: .relaxed)
            return FakeWorkerHandle()
        }
        for _ in 0..<60 {
            #expect(pool.submit { handle in
                handle.uses += 1
                // The state lives on the thread that made it.
                let same = pthread_equal(handle.thread, pthread_self()) != 0
                seen.withLock { $0.append(same ? "same" : "other") }
                sleepMillis(1)
            })
        }
        #expect(pool.drain(until: .after(millis: 5000)))
        pool.stop()
        #expect(made.load(ordering: .relaxed) == 3)
        #expect(seen.withLock { $0.count == 60 && $0.allSatisfy { $0 == "same" } })
    }

    /// Jobs that come one at a time all run on the worker that went idle last, the
    /// one whose caches are warm, not on each worker in turn.
    @Test func lastIdleWorkerTakesTheNextJob() throws {
        let threads = Mutex<[String]>([])
        let pool = try SessionPool<FakeWorkerHandle>(threads: 4, queueCapacity: 10) { FakeWorkerHandle() }
        try waitUntil { pool.idleWorkers == 4 }
        for _ in 0..<20 {
            #expect(pool.submit { handle in
                threads.withLock { $0.append("\(ObjectIdentifier(handle))") }
            })
            try waitUntil { pool.idleWorkers == 4 && pool.counts == (0, 0) }
        }
        pool.stop()
        #expect(threads.withLock { $0.count == 20 && Set($0).count == 1 })
    }

    /// stop after drain runs every queued job; stop(discardQueued:) drops the waiting ones.
    @Test func stopDrainsOrDiscards() throws {
        let ran = Atomic<Int>(0)
        let pool = try SessionPool<Void>(threads: 1, queueCapacity: 10) { () }
        let gate = DispatchSemaphore(value: 0)
        #expect(pool.submit { _ in gate.wait(); ran.add(1, ordering: .relaxed) })
        for _ in 0..<4 { #expect(pool.submit { _ in ran.add(1, ordering: .relaxed) }) }
        try waitUntil { pool.busy == 1 }
        #expect(!pool.drain(until: .after(millis: 20)))
        gate.signal()
        try waitUntil { pool.queued == 0 && pool.busy == 0 }
        #expect(ran.load(ordering: .relaxed) == 5)

        #expect(pool.submit { _ in gate.wait() })
        for _ in 0..<4 { #expect(pool.submit { _ in ran.add(1, ordering: .relaxed) }) }
        try waitUntil { pool.busy == 1 }
        pool.stopAccepting()
        #expect(!pool.submit { _ in })
        gate.signal()
        let discarded = pool.stop(discardQueued: true)
        #expect(discarded + (ran.load(ordering: .relaxed) - 5) == 4)
    }
}
