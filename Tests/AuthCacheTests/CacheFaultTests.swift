import Foundation
import Testing
@testable import AuthCache

/// A small tmpfs for disk-full and read-only tests; needs root and mount.
final class CacheTmpfs {
    let dir: CacheTestDirectory
    var path: String { dir.url.path }

    init?(size: String) {
        guard let dir = try? CacheTestDirectory(), Self.run(["mount", "-t", "tmpfs", "-o", "size=\(size)", "tmpfs", dir.url.path]) else {
            return nil
        }
        self.dir = dir
    }

    func remountReadOnly() -> Bool { Self.run(["mount", "-o", "remount,ro", path]) }

    deinit { _ = Self.run(["umount", "-l", path]) }

    static func run(_ args: [String]) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// Whether this machine lets the tests mount a tmpfs (root in a permissive container).
    static let available: Bool = CacheTmpfs(size: "64k") != nil
}

@Suite(.serialized) struct CacheFaultTests {
    static let login = Array("alice".utf8)
    static let password = Array("pw".utf8)

    func lookup(_ s: AuthCacheStore) -> CacheLookup {
        s.lookup(protocolName: "imap", login: Self.login, password: Self.password, clientIP: "192.0.2.7")
    }

    func store(_ s: AuthCacheStore, login: [UInt8] = login) {
        s.store(protocolName: "imap", login: login, password: Self.password, clientIP: "192.0.2.7", backend: backendA)
    }

    /// A database that cannot be opened answers unavailable, logs one line, allows logins, and retries later.
    @Test func openFailureDegrades() throws {
        let dir = try CacheTestDirectory()
        let f = try CacheFixture(dir: dir, name: "missing/dir/cache.db")
        #expect(lookup(f.store) == .unavailable)
        store(f.store)
        #expect(f.store.throttleCheck(login: Self.login, clientIP: "192.0.2.7") == .allow)
        f.store.recordFailure(login: Self.login, clientIP: "192.0.2.7")
        #expect(lookup(f.store) == .unavailable)
        #expect(f.logs.all.count == 1)
        #expect(f.logs.all.first?.contains("unavailable") == true)
        try FileManager.default.createDirectory(atPath: dir.path("missing/dir"), withIntermediateDirectories: true)
        #expect(lookup(f.store) == .unavailable, "no retry before retryAfterFaultSeconds")
        f.clock.now += 10
        #expect(lookup(f.store) == .miss)
        #expect(f.logs.all.count == 2)
        #expect(f.logs.all.last?.contains("works again") == true)
    }

    /// Another connection holding an exclusive lock makes writes fault once, then the cache works again.
    @Test func lockedDatabaseDegrades() throws {
        let f = try CacheFixture()
        store(f.store)
        let locker = try SQLiteConnection(path: f.path, busyTimeoutMillis: 0)
        try locker.execute("BEGIN EXCLUSIVE")
        store(f.store, login: Array("bob".utf8))
        store(f.store, login: Array("carol".utf8))
        f.store.recordFailure(login: Self.login, clientIP: "192.0.2.7")
        let during = lookup(f.store)
        #expect(during == .hit(backendA) || during == .unavailable)
        #expect(f.logs.all.count == 1)
        #expect(f.shared.isFaulted)
        try locker.execute("COMMIT")
        store(f.store, login: Array("bob".utf8))
        #expect(f.shared.isFaulted, "no retry within a second of a lock")
        f.clock.now += 1
        store(f.store, login: Array("bob".utf8))
        #expect(!f.shared.isFaulted)
        #expect(lookup(f.store) == .hit(backendA))
    }

    /// A file that is not a database is moved aside to PATH.corrupt-TIME and a fresh cache created.
    @Test func corruptFileIsMovedAside() throws {
        let f = try CacheFixture()
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: f.path))
        #expect(lookup(f.store) == .unavailable)
        #expect(FileManager.default.fileExists(atPath: f.path + ".corrupt-\(f.clock.now)"))
        #expect(f.logs.all.contains { $0.contains("corrupt") })
        #expect(lookup(f.store) == .miss)
        store(f.store)
        #expect(lookup(f.store) == .hit(backendA))
    }

    /// Damage found on a connection already open also moves the file aside instead of failing every login.
    @Test func corruptionUnderOpenConnection() throws {
        let f = try CacheFixture()
        store(f.store)
        // Overwrite the header and every page but keep the file length.
        let size = try FileManager.default.attributesOfItem(atPath: f.path)[.size] as? Int ?? 4096
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: f.path))
        try h.write(contentsOf: Data(repeating: 0x17, count: max(size, 4096)))
        try h.close()
        try? FileManager.default.removeItem(atPath: f.path + "-wal")
        var results: [CacheLookup] = []
        for _ in 0..<3 { results.append(lookup(f.store)) }
        #expect(results.allSatisfy { $0 == .unavailable || $0 == .miss || $0 == .hit(backendA) })
        store(f.store)
        #expect(lookup(f.store) == .hit(backendA), "\(results) \(f.logs.all)")
    }

    /// A database on a full disk keeps answering (or reports unavailable), never crashes, and logs one line.
    @Test(.enabled(if: CacheTmpfs.available)) func fullDiskDegrades() throws {
        guard let fs = CacheTmpfs(size: "256k") else { return }
        let f = try CacheFixture(dir: fs.dir)
        store(f.store)
        #expect(lookup(f.store) == .hit(backendA))
        // Fill the disk, then keep writing.
        let filler = FileManager.default.createFile(atPath: fs.path + "/filler", contents: Data(repeating: 1, count: 1 << 20))
        _ = filler
        for i in 0..<400 { store(f.store, login: Array("user\(i)-with-a-longer-name-to-fill-pages".utf8)) }
        #expect(f.shared.counters.faults.load(ordering: .relaxed) > 0)
        #expect(f.logs.all.count == 1)
        let after = lookup(f.store)
        #expect(after == .hit(backendA) || after == .unavailable)
        #expect(f.store.throttleCheck(login: Self.login, clientIP: "192.0.2.7") == .allow)
    }

    /// A read-only filesystem: lookups still answer or report unavailable, writes are dropped with one log line.
    @Test(.enabled(if: CacheTmpfs.available)) func readOnlyDegrades() throws {
        guard let fs = CacheTmpfs(size: "1m") else { return }
        do {
            let writer = try CacheFixture(dir: fs.dir)
            store(writer.store)
        }
        try #require(fs.remountReadOnly())
        let f = try CacheFixture(dir: fs.dir)
        let reader = f.secondStore()
        let seen = lookup(reader)
        #expect(seen == .hit(backendA) || seen == .unavailable, "\(f.logs.all)")
        store(reader, login: Array("bob".utf8))
        store(f.store, login: Array("carol".utf8))
        #expect(f.store.throttleCheck(login: Self.login, clientIP: "192.0.2.7") == .allow)
        #expect(f.logs.all.count <= 1)
        #expect(f.shared.counters.faults.load(ordering: .relaxed) > 0)
    }
}
