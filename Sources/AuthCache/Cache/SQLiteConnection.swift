import CSQLite
import Glibc

/// One SQLite connection, used by one thread only (hence not Sendable).
/// Statements are prepared once with SQLITE_PREPARE_PERSISTENT and
/// finalized before the connection closes in deinit.
final class SQLiteConnection {
    private(set) var handle: OpaquePointer?
    /// Keyed by the SQL literal's address: hashing the SQL text on every
    /// call showed up in a cache hit's profile; a literal's address is stable.
    private var statements: [UnsafeRawPointer: SQLiteStatement] = [:]
    /// Statements handed out since the last `resetAll`, so it resets just those.
    private var used: [SQLiteStatement] = []

    /// Opens or creates `path`. The busy timeout is set before anything
    /// touches the file: WAL setup itself can meet a lock.
    init(path: String, busyTimeoutMillis: Int32, create: Bool = true) throws(CacheError) {
        _ = Self.configured
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        handle = db
        guard rc == SQLITE_OK else {
            let error = CacheError(code: rc, message: db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory")
            sqlite3_close_v2(db)
            handle = nil
            throw error
        }
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMillis)
    }

    /// Process-wide settings, applied once before the first connection
    /// (sqlite3_config refuses them once SQLite is initialized).
    private static let configured: Void = { _ = csqlite_disable_memstatus() }()

    deinit {
        statements.removeAll()   // finalizes each statement first
        sqlite3_close_v2(handle)
    }

    func execute(_ sql: String) throws(CacheError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(message)
            throw CacheError(code: rc, message: text, sql: String(sql.prefix(200)))
        }
    }

    /// The cached prepared statement for `sql`, reset and with its bindings cleared.
    func statement(_ sql: StaticString) throws(CacheError) -> SQLiteStatement {
        let key = UnsafeRawPointer(sql.utf8Start)
        if let s = statements[key] {
            s.reset()
            if !used.contains(where: { $0 === s }) { used.append(s) }
            return s
        }
        let text = sql.description
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw error(rc, text) }
        let s = SQLiteStatement(raw, sql: text, connection: self)
        statements[key] = s
        used.append(s)
        return s
    }

    /// Resets every statement. A statement left on a row holds its read
    /// transaction open, and in WAL mode that pins an old snapshot: this
    /// connection would not see other threads' writes.
    func resetAll() {
        for s in used { s.reset() }
        used.removeAll(keepingCapacity: true)
    }

    /// Runs `body` in a write transaction (BEGIN IMMEDIATE): committed when it
    /// returns, rolled back when it or the commit throws. The three statements
    /// are prepared once, like the read transaction's: `execute` parsed them
    /// again on every write (a miss's owner note, every recorded failure).
    func writeTransaction<T>(_ body: () throws(CacheError) -> T) throws(CacheError) -> T {
        try statement("BEGIN IMMEDIATE").run()
        do throws(CacheError) {
            let value = try body()
            try statement("COMMIT").run()
            return value
        } catch {
            try? statement("ROLLBACK").run()
            throw error
        }
    }

    /// True while an explicit transaction is open on this connection.
    var inTransaction: Bool { handle.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    func scalarInt(_ sql: StaticString) throws(CacheError) -> Int64 {
        let s = try statement(sql)
        guard try s.step() else { return 0 }
        return s.int(0)
    }

    var lastMessage: String { handle.map { String(cString: sqlite3_errmsg($0)) } ?? "no connection" }
    var changes: Int { Int(sqlite3_changes(handle)) }

    func error(_ rc: Int32, _ sql: String?) -> CacheError {
        CacheError(code: rc, message: lastMessage, sql: sql)
    }
}

/// A prepared statement. Text and blobs are bound with explicit lengths and
/// copied (SQLITE_TRANSIENT): a NUL inside a login or key must never end it.
final class SQLiteStatement {
    private let raw: OpaquePointer
    let sql: String
    private unowned let connection: SQLiteConnection

    fileprivate init(_ raw: OpaquePointer, sql: String, connection: SQLiteConnection) {
        self.raw = raw
        self.sql = sql
        self.connection = connection
    }

    deinit { sqlite3_finalize(raw) }

    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Int64?) -> SQLiteStatement {
        if let value { sqlite3_bind_int64(raw, index, value) } else { sqlite3_bind_null(raw, index) }
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Double) -> SQLiteStatement {
        sqlite3_bind_double(raw, index, value)
        return self
    }

    @discardableResult
    func bind(_ index: Int32, blob: [UInt8]?) -> SQLiteStatement {
        guard let blob else {
            sqlite3_bind_null(raw, index)
            return self
        }
        blob.withUnsafeBytes { buffer in
            // A zero-length blob still needs a non-NULL pointer, or SQLite binds NULL.
            let base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            _ = sqlite3_bind_blob64(raw, index, base, sqlite3_uint64(buffer.count), csqlite_transient())
        }
        return self
    }

    @discardableResult
    func bind(_ index: Int32, text: String?) -> SQLiteStatement {
        guard var text else {
            sqlite3_bind_null(raw, index)
            return self
        }
        text.withUTF8 { utf8 in
            let base = utf8.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(bitPattern: 1)!
            _ = sqlite3_bind_text64(raw, index, base.assumingMemoryBound(to: CChar.self),
                                    sqlite3_uint64(utf8.count), csqlite_transient(), UInt8(SQLITE_UTF8))
        }
        return self
    }

    /// One step: true with a row to read, false when done.
    func step() throws(CacheError) -> Bool {
        let rc = sqlite3_step(raw)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = connection.error(rc, sql)
            sqlite3_reset(raw)
            throw error
        }
    }

    func run() throws(CacheError) {
        while try step() {}
        sqlite3_reset(raw)
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }
    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    func blob(_ column: Int32) -> [UInt8]? {
        if isNull(column) { return nil }
        let count = Int(sqlite3_column_bytes(raw, column))
        guard count > 0, let p = sqlite3_column_blob(raw, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }

    func text(_ column: Int32) -> String? {
        guard let bytes = blob(column) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
