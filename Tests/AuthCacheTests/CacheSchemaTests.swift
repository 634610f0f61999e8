import Foundation
import Testing
@testable import AuthCache

@Suite struct CacheSchemaTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The schema embedded in the binary is byte for byte sql/schema.sql (run scripts/gen-schema.sh).
    @Test func generatedSchemaMatchesSQLFile() throws {
        let file = try String(contentsOf: Self.root.appendingPathComponent("sql/schema.sql"), encoding: .utf8)
        #expect(authCacheSchemaSQL + "\n" == file)
    }

    /// The schema splits into numbered migrations starting at 1, in order.
    @Test func migrationsAreNumberedInOrder() {
        let versions = schemaMigrations().map(\.version)
        #expect(versions.first == 1)
        #expect(versions == Array(1...versions.count))
    }

    /// A fresh database migrates to the latest version with every table and view; a second run changes nothing.
    @Test func freshDatabaseMigrates() throws {
        let dir = try CacheTestDirectory()
        let db = try SQLiteConnection(path: dir.path("c.db"), busyTimeoutMillis: 1000)
        #expect(try db.migrate() == 0)
        #expect(try db.scalarInt("PRAGMA user_version") == Int64(latestSchemaVersion))
        for name in ["cached_logins", "auth_failures", "login_networks", "sessions",
                     "live_logins", "current_bans", "recent_failures", "recent_sessions"] {
            let s = try db.statement("SELECT count(*) FROM sqlite_master WHERE name = ?")
            s.bind(1, text: name)
            #expect(try s.step())
            #expect(s.int(0) == 1, "missing \(name)")
        }
        #expect(try db.migrate() == latestSchemaVersion)
    }

    /// A later migration runs on a database at an older version, and only once.
    @Test func laterMigrationRunsOnOlderDatabase() throws {
        let dir = try CacheTestDirectory()
        let db = try SQLiteConnection(path: dir.path("c.db"), busyTimeoutMillis: 1000)
        let first = schemaMigrations()
        try db.migrate(first)
        let next = first + [SchemaMigration(version: first.count + 1, sql: "CREATE TABLE extra (x);")]
        #expect(try db.migrate(next) == first.count)
        #expect(try db.migrate(next) == first.count + 1)
        #expect(try db.scalarInt("SELECT count(*) FROM extra") == 0)
    }

    /// A database from a newer build is refused, not modified.
    @Test func newerDatabaseIsRefused() throws {
        let dir = try CacheTestDirectory()
        let db = try SQLiteConnection(path: dir.path("c.db"), busyTimeoutMillis: 1000)
        try db.execute("PRAGMA user_version = 999")
        #expect(throws: CacheError.self) { try db.migrate() }
    }
}

/// A fresh temporary directory per test, removed at the end.
final class CacheTestDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("postern-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit {
        _ = try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: url.path)
        try? FileManager.default.removeItem(at: url)
    }
}
