import Foundation
import TestSupport

enum PosternProcessError: Error, CustomStringConvertible {
    case noBinary(String)
    case exited(Int32, String)
    case notListening(Int, String)

    var description: String {
        switch self {
        case .noBinary(let path): "no postern binary at \(path) (run swift build, or set POSTERN_BIN)"
        case .exited(let status, let log): "postern exited with status \(status) before listening:\n\(log)"
        case .notListening(let port, let log): "postern did not listen on port \(port) within 10 s:\n\(log)"
        }
    }
}

/// Which binary the proxy tests run, and whether they should run at all.
enum PosternBinary {
    /// `POSTERN_BIN`, else `.build/debug/postern` in this repository. With
    /// `POSTERN_ORACLE=nginx` the tests run nginx's own mail proxy instead, which
    /// proves the tests themselves against the behaviour Postern copies.
    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        if environment["POSTERN_ORACLE"] == "nginx" { return "/usr/sbin/nginx" }
        if let path = environment["POSTERN_BIN"], !path.isEmpty { return path }
        return Repository.root.appendingPathComponent(".build/debug/postern").path
    }

    static var isNginxOracle: Bool { ProcessInfo.processInfo.environment["POSTERN_ORACLE"] == "nginx" }

    /// The gate for the proxy tests. POSTERN_IT=1 forces them on, POSTERN_IT=0 off.
    /// Otherwise they run when the binary exists, `-V` succeeds, and `-t` rejects a
    /// config with an unknown directive: a binary that ignores its arguments (the
    /// early skeleton) is not mistaken for a proxy.
    static let canProxy: Bool = {
        let environment = ProcessInfo.processInfo.environment
        if environment["POSTERN_IT"] == "1" || isNginxOracle { return true }
        if environment["POSTERN_IT"] == "0" { return false }
        guard FileManager.default.isExecutableFile(atPath: path) else { return false }
        guard let version = try? ProcessRunner.runBlocking(path, ["-V"], timeout: 10), version.status == 0 else {
            return false
        }
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("postern-gate-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let conf = scratch.appendingPathComponent("bad.conf")
        try? "no_such_directive_at_all on;\nevents {}\n".write(to: conf, atomically: true, encoding: .utf8)
        guard let check = try? ProcessRunner.runBlocking(
            path, ["-t", "-p", scratch.path, "-c", conf.path, "-e", scratch.appendingPathComponent("e.log").path],
            timeout: 10)
        else { return false }
        return check.status != 0
    }()
}

/// A running Postern (or nginx oracle) with a config written for one test environment.
final class PosternProcess {
    let directory: URL
    let port: Int
    let process: Process
    let errorLog: URL

    /// Writes the config and starts the binary; returns once the listener accepts.
    /// `serverExtra` goes inside the `server {}` block, `mailExtra` inside `mail {}`,
    /// `listenParameters` after the listen address (`ssl`), and `extraServers`
    /// after the server block, with `@PORT@` replaced by its port.
    init(environment: TestEnvironment, protocol name: String = "imap",
         mailExtra: String = "", serverExtra: String = "", listenParameters: String = "",
         extraServers: String = "") async throws {
        directory = environment.directory.appendingPathComponent("postern")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        errorLog = directory.appendingPathComponent("error.log")
        let binary = PosternBinary.path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw PosternProcessError.noBinary(binary)
        }
        // A free port can be taken by another test between choosing and binding
        // it; then something else answers on it. Ready means the pid file exists
        // (written after every listener is up) while the port accepts; a start
        // that fails to bind is retried on a fresh port.
        let pidFile = directory.appendingPathComponent("postern.pid")
        var lastError: Error = PosternProcessError.noBinary(binary)
        for _ in 0..<3 {
            let candidate = freeLoopbackPort()
            try? FileManager.default.removeItem(at: pidFile)
            let config = PosternConfig.text(
                directory: directory.path, authPort: try environment.authPort, listenPort: candidate,
                protocol: name, mailExtra: mailExtra, serverExtra: serverExtra,
                nginxOracle: PosternBinary.isNginxOracle, listenParameters: listenParameters,
                extraServers: extraServers)
            let configURL = directory.appendingPathComponent("postern.conf")
            try config.write(to: configURL, atomically: true, encoding: .utf8)

            let started = Process()
            started.executableURL = URL(fileURLWithPath: binary)
            var arguments = ["-p", directory.path, "-c", configURL.path]
            if PosternBinary.isNginxOracle { arguments += ["-e", errorLog.path] }
            started.arguments = arguments
            started.standardInput = FileHandle.nullDevice
            let out = directory.appendingPathComponent("stdout.log")
            _ = FileManager.default.createFile(atPath: out.path, contents: nil)
            let handle = try FileHandle(forWritingTo: out)
            started.standardOutput = handle
            started.standardError = handle
            try started.run()
            try? handle.close()

            var ready = false
            for _ in 0..<200 {
                if !started.isRunning { break }
                if FileManager.default.fileExists(atPath: pidFile.path) && loopbackPortAccepts(candidate) {
                    ready = true
                    break
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            if ready {
                port = candidate
                process = started
                return
            }
            if started.isRunning {
                started.terminate()
                _ = await ProcessRunner.waitForExit(started, seconds: 5)
                lastError = PosternProcessError.notListening(candidate, Self.logs(directory: directory, errorLog: errorLog))
                break
            }
            lastError = PosternProcessError.exited(started.terminationStatus,
                                                   Self.logs(directory: directory, errorLog: errorLog))
        }
        throw lastError
    }

    /// The error log and stdout/stderr, for failure messages.
    func logs() -> String { Self.logs(directory: directory, errorLog: errorLog) }

    static func logs(directory: URL, errorLog: URL) -> String {
        let log = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
        let out = (try? String(contentsOf: directory.appendingPathComponent("stdout.log"), encoding: .utf8)) ?? ""
        return "--- error.log\n\(log)--- stdout/stderr\n\(out)"
    }

    /// SIGTERM, then SIGKILL after 5 s.
    /// Blocks briefly: it is called from `defer`, which cannot await.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        if !ProcessRunner.waitForExitBlocking(process, seconds: 5) {
            kill(process.processIdentifier, SIGKILL)
            _ = ProcessRunner.waitForExitBlocking(process, seconds: 5)
        }
    }
}

/// The config the integration tests give Postern: nginx `mail {}` syntax, everything
/// in the test's directory, one server on a free loopback port.
enum PosternConfig {
    static func text(directory: String, authPort: Int, listenPort: Int, protocol name: String,
                     mailExtra: String, serverExtra: String, nginxOracle: Bool,
                     listenParameters: String = "", extraServers: String = "") -> String {
        var lines: [String] = []
        if nginxOracle {
            lines.append("load_module /usr/lib/nginx/modules/ngx_mail_module.so;")
        }
        lines += [
            "error_log \(directory)/error.log info;",
            "pid \(directory)/postern.pid;",
            "daemon off;",
            "events {}",
            "mail {",
            "    server_name mail.test;",
            "    auth_http 127.0.0.1:\(authPort)/auth;",
            "    proxy_pass_error_message on;",
            mailExtra,
            "    server {",
            "        listen 127.0.0.1:\(listenPort)\(listenParameters.isEmpty ? "" : " " + listenParameters);",
            "        protocol \(name);",
            name == "imap" ? "        imap_auth plain login cram-md5;" : "",
            serverExtra,
            "    }",
            extraServers.replacingOccurrences(of: "@PORT@", with: String(listenPort)),
            "}",
        ]
        return lines.filter { !$0.isEmpty }.joined(separator: "\n") + "\n"
    }
}
