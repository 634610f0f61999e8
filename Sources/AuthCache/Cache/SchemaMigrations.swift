/// The schema's "-- migration N" sections (sql/schema.sql), in order.
struct SchemaMigration: Equatable {
    var version: Int
    var sql: String
}

/// Splits the embedded schema at its "-- migration N" lines. Text before the
/// first marker (the header comment) belongs to no migration.
func schemaMigrations(_ text: String = authCacheSchemaSQL) -> [SchemaMigration] {
    var result: [SchemaMigration] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("-- migration "), let n = Int(line.dropFirst("-- migration ".count)) {
            result.append(SchemaMigration(version: n, sql: ""))
        } else if !result.isEmpty {
            result[result.count - 1].sql += line + "\n"
        }
    }
    return result
}

/// The embedded schema's migrations, split once: every connection (one per
/// session thread) checks them when it opens.
let embeddedSchemaMigrations = schemaMigrations()

/// The newest schema version this build knows.
var latestSchemaVersion: Int { embeddedSchemaMigrations.last?.version ?? 0 }

extension SQLiteConnection {
    /// Brings the database to the latest schema, one transaction per
    /// migration, and returns the version it found. A database newer than
    /// this build is refused (code SQLITE_MISMATCH) rather than guessed at.
    @discardableResult
    func migrate(_ migrations: [SchemaMigration] = embeddedSchemaMigrations) throws(CacheError) -> Int {
        let found = Int(try scalarInt("PRAGMA user_version"))
        if let last = migrations.last, found > last.version {
            throw CacheError(code: 20, message: "database schema version \(found) is newer than this build's \(last.version)")
        }
        for m in migrations where m.version > found {
            try writeTransaction { () throws(CacheError) in
                // Another process may have migrated while we waited for the lock.
                if try scalarInt("PRAGMA user_version") < m.version {
                    try execute(m.sql)
                    try execute("PRAGMA user_version = \(m.version)")
                }
            }
        }
        return found
    }
}
