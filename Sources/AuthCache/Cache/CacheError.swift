/// A SQLite failure as an operator reads it: the result code, SQLite's
/// message and the statement, never the values bound to it (they can be
/// logins or verifiers).
public struct CacheError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var sql: String?

    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// What kind of fault this is, which decides how the store recovers.
    public var kind: CacheFaultKind {
        switch code & 0xff {
        case 5, 6: return .locked            // SQLITE_BUSY, SQLITE_LOCKED
        case 8: return .readOnly             // SQLITE_READONLY
        case 11, 26: return .corrupt         // SQLITE_CORRUPT, SQLITE_NOTADB
        case 13: return .full                // SQLITE_FULL
        case 14: return .cannotOpen          // SQLITE_CANTOPEN
        default: return .other
        }
    }

    public var description: String {
        "sqlite error \(code): \(message)" + (sql.map { " in \"\($0)\"" } ?? "")
    }
}

public enum CacheFaultKind: String, Sendable {
    case locked, readOnly, corrupt, full, cannotOpen, other
}
