import Foundation
import Glibc
import Testing
@testable import Server

@Suite struct EngineLogTests {
    /// A session line reads like nginx's mail log: time, level, pid#tid, *conn, message, action, context.
    @Test func lineFormat() throws {
        let log = try ErrorLog(targets: [], clock: { (0, 42) })
        let context = LogContext(connection: 5, client: "1.2.3.4", server: "0.0.0.0:143", login: "bob",
                                 upstream: "10.0.0.2:143", action: "in auth state")
        let line = log.formatLine(.error, "upstream sent invalid response", context: context, error: nil)
        let pattern = #"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] \d+#42: \*5 upstream sent invalid response while in auth state, client: 1\.2\.3\.4, server: 0\.0\.0\.0:143, login: "bob", upstream: 10\.0\.0\.2:143\n$"#
        #expect(line.range(of: pattern, options: .regularExpression) != nil, "\(line)")
    }

    /// The errno text follows the message; starttls and missing fields print as nginx does.
    @Test func errnoAndPartialContext() throws {
        let log = try ErrorLog(targets: [], clock: { (0, 1) })
        let context = LogContext(connection: 9, client: "::1", server: "[::1]:143", usingStartTLS: true,
                                 action: "connecting to upstream")
        let line = log.formatLine(.error, "connect() failed", context: context, error: .connectionRefused)
        #expect(line.hasSuffix(": *9 connect() failed (111: Connection refused) while connecting to upstream, client: ::1 using starttls, server: [::1]:143\n"))
        let plain = log.formatLine(.notice, "signal process started", context: nil, error: nil)
        #expect(plain.hasSuffix("[notice] \(getpid())#1: signal process started\n"))
        // nginx leaves the context off debug lines.
        let debug = log.formatLine(.debug, "state", context: context, error: nil)
        #expect(debug.hasSuffix("*9 state\n"))
    }

    /// Each target logs only lines at or above its own level.
    @Test func perTargetLevels() throws {
        let warnPath = engineTempPath("warn.log"), debugPath = engineTempPath("debug.log")
        defer { unlink(warnPath); unlink(debugPath) }
        let log = try ErrorLog(targets: [LogTarget(.file(path: warnPath), level: .warn),
                                         LogTarget(.file(path: debugPath), level: .debug)])
        #expect(log.maximumLevel == .debug)
        log.log(.info, "info line")
        log.log(.error, "error line")
        log.log(.debug, "debug line")
        let warn = try String(contentsOfFile: warnPath, encoding: .utf8)
        let debug = try String(contentsOfFile: debugPath, encoding: .utf8)
        #expect(warn.contains("[error] ") && warn.contains("error line"))
        #expect(!warn.contains("info line") && !warn.contains("debug line"))
        #expect(debug.split(separator: "\n").count == 3)
    }

    /// reopen() makes the log write to a fresh file after the old one was moved away.
    @Test func reopenAfterRotation() throws {
        let path = engineTempPath("rot.log")
        defer { unlink(path); unlink(path + ".1") }
        let log = try ErrorLog(targets: [LogTarget(.file(path: path), level: .info)])
        log.log(.info, "before")
        #expect(rename(path, path + ".1") == 0)
        log.log(.info, "still old")
        #expect(log.reopen().isEmpty)
        log.log(.info, "after")
        let old = try String(contentsOfFile: path + ".1", encoding: .utf8)
        let new = try String(contentsOfFile: path, encoding: .utf8)
        #expect(old.contains("before") && old.contains("still old") && !old.contains("after"))
        #expect(new.contains("after") && !new.contains("before"))
    }

    /// Lines written from many threads at once never interleave.
    @Test func concurrentLinesStayWhole() throws {
        let path = engineTempPath("mt.log")
        defer { unlink(path) }
        let log = try ErrorLog(targets: [LogTarget(.file(path: path), level: .info)])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            for j in 0..<100 { log.log(.info, "thread \(i) line \(j) " + String(repeating: "x", count: 200)) }
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 800)
        #expect(lines.allSatisfy { $0.hasSuffix(String(repeating: "x", count: 200)) && $0.contains("[info]") })
    }

    /// SessionLog carries the session's context and updates its action and login.
    @Test func sessionLogUpdates() throws {
        let path = engineTempPath("s.log")
        defer { unlink(path) }
        let log = try ErrorLog(targets: [LogTarget(.file(path: path), level: .info)])
        var s = SessionLog(log: log, context: LogContext(connection: 3, client: "1.2.3.4", server: "0.0.0.0:110"))
        s.set(action: "in auth state")
        s.set(login: "alice")
        s.info("client closed connection")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("*3 client closed connection while in auth state, client: 1.2.3.4, server: 0.0.0.0:110, login: \"alice\"\n"))
    }

    /// Level names parse from the config spelling.
    @Test func levelNames() {
        #expect(LogLevel(name: "warn") == .warn)
        #expect(LogLevel(name: "emerg") == .emerg)
        #expect(LogLevel(name: "warning") == nil)
        #expect(LogLevel.error < LogLevel.info)
    }
}
