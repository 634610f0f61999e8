import Glibc
import Synchronization

/// The background thread of one cache database: writes queued ledger
/// entries and hit counts in batches (every second, or as soon as 100 are waiting) and
/// purges expired rows every minute, so sessions never wait on these writes.
public final class AuthCacheMaintenance: Sendable {
    public let shared: AuthCacheShared
    private let stopping = Atomic(false)
    private let stopped = Atomic(false)
    static let batchSize = 100
    static let flushIntervalNanos: UInt64 = 1_000_000_000
    static let purgeIntervalNanos: UInt64 = 60_000_000_000

    public init(shared: AuthCacheShared) {
        self.shared = shared
    }

    /// Starts the thread; it runs until `stop()`.
    public func start() {
        let me = self
        startCacheThread { me.run() }
    }

    /// Asks the thread to write what is queued and end; waits at most `timeoutMillis`.
    public func stop(timeoutMillis: Int = 2000) {
        stopping.store(true, ordering: .relaxed)
        var waited = 0
        while !stopped.load(ordering: .relaxed) && waited < timeoutMillis {
            usleep(10_000)
            waited += 10
        }
    }

    private func run() {
        let store = AuthCacheStore(shared: shared)
        var lastFlush = monotonicNanos()
        var lastPurge: UInt64 = 0
        while !stopping.load(ordering: .relaxed) {
            usleep(100_000)
            let now = monotonicNanos()
            if shared.ledgerQueued >= Self.batchSize || now &- lastFlush >= Self.flushIntervalNanos {
                Self.flush(store, shared)
                lastFlush = now
            }
            if lastPurge == 0 || now &- lastPurge >= Self.purgeIntervalNanos {
                store.purgeExpired()
                lastPurge = now
            }
        }
        Self.flush(store, shared)
        stopped.store(true, ordering: .relaxed)
    }

    /// Writes everything queued, a batch per transaction; on a fault keeps
    /// the entries for the next round (the queue is bounded).
    static func flush(_ store: AuthCacheStore, _ shared: AuthCacheShared) {
        store.writeHits(shared.takeHits())
        for _ in 0..<100 {
            let batch = shared.takeLedger(max: 1000)
            if batch.isEmpty { return }
            if !store.writeLedger(batch) {
                shared.requeue(batch)
                return
            }
        }
    }
}

/// One maintenance thread per distinct cache settings, process-wide: worker
/// threads and server blocks with the same settings share it. A reload that
/// changes a cache's settings starts a new one; the old one stays (idle but
/// purging) until `stopAll`, so the number is bounded by distinct settings.
public final class AuthCacheRegistry: Sendable {
    public static let process = AuthCacheRegistry()
    private let entries = Mutex<[AuthCacheSettings: AuthCacheMaintenance]>([:])

    public init() {}

    /// The shared state for `settings`, starting its maintenance thread the first time.
    public func shared(for settings: AuthCacheSettings,
                       log: @escaping @Sendable (CacheLogLevel, String) -> Void) -> AuthCacheShared {
        entries.withLock { map -> AuthCacheShared in
            if let existing = map[settings] { return existing.shared }
            let fresh = AuthCacheMaintenance(shared: AuthCacheShared(settings: settings, log: log))
            fresh.start()
            map[settings] = fresh
            return fresh.shared
        }
    }

    /// The shared state of every cache in use, for status lines and benchmarks.
    public var allShared: [AuthCacheShared] {
        entries.withLock { map in map.values.map(\.shared) }
    }

    /// Stops every maintenance thread after a final ledger write.
    public func stopAll(timeoutMillis: Int = 2000) {
        let all = entries.withLock { map in
            defer { map.removeAll() }
            return Array(map.values)
        }
        for m in all { m.stop(timeoutMillis: timeoutMillis) }
    }
}

private func startCacheThread(_ body: @escaping @Sendable () -> Void) {
    final class Box: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, 256 * 1024)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attributes, { raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, box)
    if rc != 0 {
        // Without the thread the ledger is not written; sessions are unaffected.
        Unmanaged<Box>.fromOpaque(box).release()
    }
}
