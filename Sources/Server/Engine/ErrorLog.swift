import Glibc
import Synchronization

/// nginx's error_log levels, most severe first; a target set to `warn` logs
/// warn and everything more severe.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case emerg = 1, alert, crit, error, warn, notice, info, debug

    public var name: String {
        switch self {
        case .emerg: "emerg"
        case .alert: "alert"
        case .crit: "crit"
        case .error: "error"
        case .warn: "warn"
        case .notice: "notice"
        case .info: "info"
        case .debug: "debug"
        }
    }

    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { $0.name == name }) else { return nil }
        self = level
    }

    /// Ordered by verbosity: `.emerg < .debug`.
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Where an error_log line goes: `error_log /var/log/postern/error.log warn;`
/// or `error_log stderr;`.
public enum LogDestination: Sendable, Equatable {
    case stderr
    case file(path: String)
}

public struct LogTarget: Sendable, Equatable {
    public var destination: LogDestination
    public var level: LogLevel
    public init(_ destination: LogDestination, level: LogLevel = .error) {
        self.destination = destination
        self.level = level
    }
}

/// Who a log line is about, printed after the message the way nginx's mail
/// module does: ` while <action>, client: C[ using starttls], server: S,
/// login: "L", upstream: U`.
///
/// There is deliberately no field for a password, SASL payload or Auth-Pass:
/// the only user-supplied text is `login`, the user name. Never put secrets in
/// a message string either (DESIGN "Secrets").
public struct LogContext: Sendable, Equatable {
    /// nginx's connection number, printed as `*N`; 0 for none.
    public var connection: UInt64
    public var client: String?
    public var server: String?
    public var login: String?
    public var upstream: String?
    public var usingStartTLS: Bool
    /// What the session was doing, e.g. "in auth state", "sending user name to upstream".
    public var action: String?

    public init(connection: UInt64 = 0, client: String? = nil, server: String? = nil, login: String? = nil,
                upstream: String? = nil, usingStartTLS: Bool = false, action: String? = nil) {
        self.connection = connection
        self.client = client
        self.server = server
        self.login = login
        self.upstream = upstream
        self.usingStartTLS = usingStartTLS
        self.action = action
    }

    /// The tail nginx appends to non-debug lines.
    var suffix: String {
        var s = ""
        if let action { s += " while " + action }
        if let client {
            s += ", client: " + client
            if let server { s += (usingStartTLS ? " using starttls" : "") + ", server: " + server }
            if let login, !login.isEmpty { s += ", login: \"" + login + "\"" }
            if let upstream { s += ", upstream: " + upstream }
        }
        return s
    }
}

/// The error log: several targets, each with its own level; thread-safe; one
/// write(2) per line per target so concurrent lines never interleave; `reopen()`
/// for USR1 after logrotate moved the files.
public final class ErrorLog: Sendable {
    private struct OpenTarget {
        var target: LogTarget
        var fd: Int32
    }

    private let targets: Mutex<[OpenTarget]>
    /// The most verbose level of any target: lines above it are not even formatted.
    public let maximumLevel: LogLevel
    private let clock: @Sendable () -> (seconds: Int, tid: Int)

    /// Opens every file target (O_APPEND|O_CREAT, 0644). Throws on the first
    /// that cannot be opened, like nginx at start-up.
    public init(targets: [LogTarget], clock: (@Sendable () -> (seconds: Int, tid: Int))? = nil) throws(Errno) {
        var opened: [OpenTarget] = []
        for target in targets {
            do throws(Errno) {
                opened.append(OpenTarget(target: target, fd: try Self.openDestination(target.destination)))
            } catch {
                for o in opened where o.fd != STDERR_FILENO { sysClose(o.fd) }
                throw error
            }
        }
        self.targets = Mutex(opened)
        maximumLevel = targets.map(\.level).max() ?? .emerg
        self.clock = clock ?? { (Int(time(nil)), sysGetTid()) }
    }

    deinit {
        targets.withLock { for t in $0 where t.fd != STDERR_FILENO { sysClose(t.fd) } }
    }

    /// A log that writes only to stderr at `level` (before the config is read).
    public static func stderr(level: LogLevel = .error) -> ErrorLog {
        // Opening stderr cannot fail.
        try! ErrorLog(targets: [LogTarget(.stderr, level: level)])
    }

    public func isEnabled(_ level: LogLevel) -> Bool { level <= maximumLevel }

    /// Writes one line: `2026/11/27 01:36:02 [error] 812#815: *3 message (111: Connection refused) while ..., client: ...`.
    public func log(_ level: LogLevel, _ message: @autoclosure () -> String, context: LogContext? = nil, error: Errno? = nil) {
        guard isEnabled(level) else { return }
        let line = formatLine(level, message(), context: context, error: error)
        targets.withLock { targets in
            for t in targets where level <= t.target.level {
                var bytes = line
                bytes.withUTF8 { buffer in
                    // A lost log line must never stop the server; one write(2), no retry loop on short writes.
                    _ = try? sysWrite(t.fd, UnsafeRawBufferPointer(buffer))
                }
            }
        }
    }

    /// Reopens file targets (USR1). A file that cannot be reopened keeps its old descriptor.
    @discardableResult
    public func reopen() -> [Errno] {
        var failures: [Errno] = []
        targets.withLock { targets in
            for i in targets.indices {
                guard case .file = targets[i].target.destination else { continue }
                do throws(Errno) {
                    let fd = try Self.openDestination(targets[i].target.destination)
                    sysClose(targets[i].fd)
                    targets[i].fd = fd
                } catch {
                    failures.append(error)
                }
            }
        }
        return failures
    }

    func formatLine(_ level: LogLevel, _ message: String, context: LogContext?, error: Errno?) -> String {
        let (seconds, tid) = clock()
        var line = Self.timestamp(seconds) + " [" + level.name + "] \(sysGetPid())#\(tid): "
        if let context, context.connection > 0 { line += "*\(context.connection) " }
        line += message
        if let error { line += " " + error.description }
        // nginx leaves the context off debug lines.
        if let context, level != .debug { line += context.suffix }
        line += "\n"
        return line
    }

    /// Local time as nginx writes it: `2026/11/27 01:36:02`.
    static func timestamp(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var tm = tm()
        localtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)/\(two(tm.tm_mon + 1))/\(two(tm.tm_mday)) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))"
    }

    private static func openDestination(_ destination: LogDestination) throws(Errno) -> Int32 {
        switch destination {
        case .stderr: return STDERR_FILENO
        case .file(let path): return try sysOpen(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        }
    }
}

/// A session's view of the log: the log plus the session's context, updated as
/// the session learns its login and upstream and moves between actions.
public struct SessionLog: Sendable {
    public let log: ErrorLog
    public var context: LogContext

    public init(log: ErrorLog, context: LogContext) {
        self.log = log
        self.context = context
    }

    public mutating func set(action: String?) { context.action = action }
    public mutating func set(login: String?) { context.login = login }
    public mutating func set(upstream: String?) { context.upstream = upstream }

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String, error: Errno? = nil) {
        log.log(level, message(), context: context, error: error)
    }
    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String, error: Errno? = nil) { log(.info, message(), error: error) }
    public func notice(_ message: @autoclosure () -> String, error: Errno? = nil) { log(.notice, message(), error: error) }
    public func warn(_ message: @autoclosure () -> String, error: Errno? = nil) { log(.warn, message(), error: error) }
    public func error(_ message: @autoclosure () -> String, error: Errno? = nil) { log(.error, message(), error: error) }
    public func crit(_ message: @autoclosure () -> String, error: Errno? = nil) { log(.crit, message(), error: error) }
}
