import Foundation
import TestSupport
import Glibc
import Testing
@testable import Server

/// Runs a program to completion (bounded); nil when it is not installed.
func runTool(_ path: String, _ arguments: [String], seconds: Double = 120) -> (status: Int32, output: String)? {
    guard FileManager.default.isExecutableFile(atPath: path) else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    let end = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < end { usleep(20_000) }
    if process.isRunning { process.terminate(); process.waitUntilExit() }
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// systemd-analyze, installed from Debian when missing and we may (root with apt-get).
func systemdAnalyze() -> String? {
    for path in ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        where FileManager.default.isExecutableFile(atPath: path) { return path }
    guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/apt-get") else { return nil }
    _ = runTool("/usr/bin/apt-get", ["install", "-y", "-q", "systemd"], seconds: 300)
    return FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") ? "/usr/bin/systemd-analyze" : nil
}

let deployDirectory = packageRoot.appendingPathComponent("deploy").path

@Suite(.serialized) struct DeployUnitTests {
    let unit = (try? String(contentsOfFile: deployDirectory + "/postern.service", encoding: .utf8)) ?? ""

    /// The unit file passes `systemd-analyze verify` (with the binary path pointed at the built binary).
    @Test func unitVerifies() throws {
        guard let analyze = systemdAnalyze(), let binary = posternBinary else { return }
        let dir = try makeTempDirectory("unit")
        let path = dir + "/postern.service"
        try unit.replacingOccurrences(of: "/usr/local/sbin/postern", with: binary)
            .write(toFile: path, atomically: true, encoding: .utf8)
        let result = try #require(runTool(analyze, ["verify", path]))
        #expect(result.status == 0, "\(result.output)")
        #expect(!result.output.contains("postern.service"), "\(result.output)")
    }

    /// The unit carries the service contract: notify, reload by HUP, config test first, state/log/runtime directories, hardening, descriptors.
    @Test(arguments: [
        "Type=notify", "ExecReload=/bin/kill -HUP $MAINPID",
        "ExecStartPre=/usr/local/sbin/postern -t -q -g \"daemon off;\"",
        "ExecStart=/usr/local/sbin/postern -g \"daemon off;\"",
        "StateDirectory=postern", "LogsDirectory=postern", "RuntimeDirectory=postern",
        "User=postern", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "NoNewPrivileges=yes",
        "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
        "LimitNOFILE=65536",
    ])
    func unitHasSetting(line: String) {
        #expect(unit.split(separator: "\n").contains(Substring(line)))
    }

    /// The example configuration is valid as the unit runs it (`-t -q -g "daemon off;"`), and quiet.
    @Test func exampleConfigTests() throws {
        guard let binary = posternBinary else { return }
        let result = try #require(runTool(binary, ["-t", "-q", "-c", deployDirectory + "/postern.conf.example",
                                                   "-g", "daemon off;"]))
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.isEmpty, "\(result.output)")
    }

    /// install.sh into a destination directory installs binary, unit, logrotate and config, and a second run keeps the operator's config.
    @Test func installIsIdempotent() throws {
        guard let binary = posternBinary else { return }
        let dest = try makeTempDirectory("install")
        let script = deployDirectory + "/install.sh"
        let first = try #require(runTool("/bin/sh", [script, "--binary", binary, "--destdir", dest]))
        #expect(first.status == 0, "\(first.output)")
        for file in ["usr/local/sbin/postern", "etc/systemd/system/postern.service", "etc/logrotate.d/postern",
                     "etc/postern/postern.conf"] {
            #expect(FileManager.default.fileExists(atPath: dest + "/" + file), "\(file)")
        }
        #expect(FileManager.default.isExecutableFile(atPath: dest + "/usr/local/sbin/postern"))
        let conf = dest + "/etc/postern/postern.conf"
        try "# the operator's own\n".write(toFile: conf, atomically: true, encoding: .utf8)
        let second = try #require(runTool("/bin/sh", [script, "--binary", binary, "--destdir", dest]))
        #expect(second.status == 0, "\(second.output)")
        #expect(try String(contentsOfFile: conf, encoding: .utf8) == "# the operator's own\n")
        #expect(FileManager.default.fileExists(atPath: dest + "/etc/postern/postern.conf.example"))
        let refused = try #require(runTool("/bin/sh", [script, "--bogus"]))
        #expect(refused.status == 2)
    }

    /// The logrotate snippet rotates the error log and its postrotate USR1 makes a running Postern write to the new file.
    @Test func logrotateReopens() throws {
        guard posternBinary != nil, geteuid() == 0,
              FileManager.default.isExecutableFile(atPath: "/usr/sbin/logrotate") else { return }
        let dir = try makeTempDirectory("rotate")
        let logs = dir + "/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        chmod(logs, 0o755)
        let snippet = try String(contentsOfFile: deployDirectory + "/logrotate", encoding: .utf8)
            .replacingOccurrences(of: "/var/log/postern/", with: logs + "/")
            .replacingOccurrences(of: "/run/postern/postern.pid", with: dir + "/postern.pid")
            .replacingOccurrences(of: "postern postern", with: "root root")
        try snippet.write(toFile: dir + "/logrotate.conf", atomically: true, encoding: .utf8)
        let port = freeLoopbackPort()
        let config = minimalConfig(dir: dir, servers: ["listen 127.0.0.1:\(port); protocol imap;"])
            .replacingOccurrences(of: "error_log \(dir)/error.log", with: "error_log \(logs)/error.log")
        let postern = try PosternProcess(dir: dir, config: config)
        defer { postern.stop() }
        let current = logs + "/error.log"
        func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        for _ in 0..<500 where !text(current).contains("start serving") { usleep(20_000) }
        #expect(text(current).contains("start serving"))

        let result = try #require(runTool("/usr/sbin/logrotate", ["-f", "-s", dir + "/logrotate.state",
                                                                   dir + "/logrotate.conf"]))
        #expect(result.status == 0, "\(result.output)")
        #expect(text(logs + "/error.log.1").contains("start serving"))
        // The reopen line itself goes to the old file; anything after it to the new one.
        for _ in 0..<500 where !text(logs + "/error.log.1").contains("reopening logs") { usleep(20_000) }
        postern.signal(SIGHUP)
        for _ in 0..<500 where !text(current).contains("reconfiguring") { usleep(20_000) }
        #expect(text(current).contains("reconfiguring"), "\(text(current))")
    }
}
