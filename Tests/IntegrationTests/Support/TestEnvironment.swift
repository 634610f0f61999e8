import Foundation

enum TestEnvironmentError: Error, CustomStringConvertible {
    case startFailed(String)
    case missing(String)

    var description: String {
        switch self {
        case .startFailed(let detail): "scripts/testenv.sh start failed: \(detail)"
        case .missing(let key): "DIR/env has no \(key)"
        }
    }
}

/// A running Dovecot and example auth service in a temporary directory, started by
/// `scripts/testenv.sh` (the same script the demo uses). Each test gets its own, on
/// its own free ports, so tests run in parallel and may break theirs (kill the auth
/// service, stop Dovecot) without touching others. Call `stop()` in a `defer`.
final class TestEnvironment {
    let directory: URL
    /// Everything `DIR/env` holds: IMAP_PORT, AUTH_PORT, LARGE_SHA256, ...
    let values: [String: String]

    /// Starts the environment; `authArguments` go to deploy/postern-auth.py (e.g. `--mode 500`).
    /// `postfix` also starts a Postfix SMTP backend; `extraUsers` are lines added to
    /// deploy/users.example for this environment.
    init(authArguments: String = "", postfix: Bool = false, extraUsers: [String] = []) async throws {
        var environment = ["AUTH_ARGS": authArguments, "TESTENV_POSTFIX": postfix ? "1" : "0"]
        var firstFailure: String?
        // A second try in a fresh directory: on a loaded two-core machine a start
        // has been seen to end with no message at all (a signal from elsewhere).
        for _ in 0..<2 {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("postern-it-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            if !extraUsers.isEmpty {
                let example = Repository.root.appendingPathComponent("deploy/users.example")
                let usersFile = directory.appendingPathComponent("users.input")
                let text = try String(contentsOf: example, encoding: .utf8) + "\n" + extraUsers.joined(separator: "\n") + "\n"
                try text.write(to: usersFile, atomically: true, encoding: .utf8)
                environment["POSTERN_USERS"] = usersFile.path
            }
            let script = Repository.scripts.appendingPathComponent("testenv.sh").path
            let output = try await ProcessRunner.run(
                "/bin/bash", [script, "start", directory.path], environment: environment, timeout: 60)
            if output.status == 0 {
                let text = try String(contentsOf: directory.appendingPathComponent("env"), encoding: .utf8)
                self.directory = directory
                values = Self.parse(text)
                return
            }
            // Whatever a half-finished start left running is stopped by pid.
            Self.stop(directory: directory)
            let failure = "status \(output.status)\(output.timedOut ? " (timed out)" : ""): \(output.stderr + output.stdout)"
            if let firstFailure {
                throw TestEnvironmentError.startFailed("first: \(firstFailure); again: \(failure)")
            }
            firstFailure = failure
        }
        throw TestEnvironmentError.startFailed(firstFailure ?? "")
    }

    /// Reads KEY=value and KEY="value" lines; the env file is written by our script.
    static func parse(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            var value = String(line[line.index(after: equals)...])
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            result[String(line[..<equals])] = value
        }
        return result
    }

    func value(_ key: String) throws -> String {
        guard let value = values[key] else { throw TestEnvironmentError.missing(key) }
        return value
    }

    func port(_ key: String) throws -> Int {
        guard let port = Int(try value(key)) else { throw TestEnvironmentError.missing(key) }
        return port
    }

    var imapPort: Int { get throws { try port("IMAP_PORT") } }
    var pop3Port: Int { get throws { try port("POP3_PORT") } }
    var authPort: Int { get throws { try port("AUTH_PORT") } }
    var authURL: String { get throws { try value("AUTH_URL") } }

    /// The users file as the auth service reads it: name -> (password, backend user, backend password).
    var users: [String: (password: String, backendUser: String, backendPassword: String)] {
        get throws {
            let text = try String(contentsOfFile: try value("USERS_FILE"), encoding: .utf8)
            var result: [String: (password: String, backendUser: String, backendPassword: String)] = [:]
            for line in text.split(separator: "\n") {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                guard fields.count >= 4 else { continue }
                let backend = fields.count == 6 ? (fields[4], fields[5]) : (fields[0], fields[1])
                result[fields[0]] = (fields[1], backend.0, backend.1)
            }
            return result
        }
    }

    /// One decoded JSON object per request the auth service answered.
    func authRequests() throws -> [[String: Any]] {
        let path = try value("AUTH_LOG")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
    }

    /// Stops one daemon of the environment by pid (SIGTERM, then SIGKILL after 5 s).
    func stopDaemon(_ key: String) async throws {
        guard let pid = pid_t(try value(key)) else { throw TestEnvironmentError.missing(key) }
        await terminate(pid: pid, grace: 5)
    }

    /// Stops everything and removes the directory. It does not wait: `defer` cannot
    /// await, and a blocked thread would hold up other tests. The stop script bounds
    /// its own work (SIGTERM, then SIGKILL after 5 s) and runs on after we return.
    func stop() {
        Self.stop(directory: directory)
    }

    static func stop(directory: URL) {
        let script = Repository.scripts.appendingPathComponent("testenv.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "bash \"$0\" stop \"$1\"; rm -rf \"$1\"", script, directory.path]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
    }
}

/// SIGTERM, wait up to `grace` seconds, then SIGKILL. Touches only this pid.
func terminate(pid: pid_t, grace: Double) async {
    guard kill(pid, SIGTERM) == 0 else { return }
    let deadline = Date().addingTimeInterval(grace)
    while Date() < deadline {
        if !isRunning(pid: pid) { return }
        try? await Task.sleep(for: .milliseconds(50))
    }
    kill(pid, SIGKILL)
}

/// True while pid runs; a zombie counts as gone (pid 1 may reap our daemons late).
func isRunning(pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(after: close)...].split(separator: " ").first
    return state != "Z"
}
