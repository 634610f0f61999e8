import Foundation
import Testing

/// Where the benchmark smoke test finds its tools; private so it cannot clash
/// with the shared integration-test support types.
private enum BenchmarkSmoke {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let script = repository.appendingPathComponent("bench/run.sh").path
    /// bench/run.sh honours POSTERN_TESTENV too.
    static let testenv = ProcessInfo.processInfo.environment["POSTERN_TESTENV"]
        ?? repository.appendingPathComponent("scripts/testenv.sh").path
    static let postern = repository.appendingPathComponent(".build/debug/postern").path

    static func installed(_ path: String) -> Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// nginx with its mail module, Dovecot, a C compiler, the test environment and a built binary.
    static var canRun: Bool {
        installed("/usr/sbin/nginx") && FileManager.default.fileExists(atPath: "/usr/lib/nginx/modules/ngx_mail_module.so")
            && installed("/usr/sbin/dovecot") && installed("/usr/bin/cc")
            && FileManager.default.fileExists(atPath: testenv) && installed(postern)
    }

    /// Runs the script with output in a file (no pipe a stray child could hold open);
    /// gives up after `timeout` seconds. Waits with `Task.sleep`: the run takes minutes
    /// in a loaded CI, and a blocking wait would hold one of the test pool's few threads.
    static func run(_ arguments: [String], timeout: Double) async throws -> (status: Int32, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("postern-bench-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning {
            process.terminate()
            _ = await ProcessRunner.waitForExit(process, seconds: 30)
        }
        try handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return (process.terminationStatus, output)
    }
}

@Suite("Benchmark smoke run", .enabled(if: BenchmarkSmoke.canRun, "needs nginx, dovecot, cc and a built postern"))
struct BenchmarkSmokeTests {
    /// The tiny benchmark (one round, c1/c4, 1 MB fetch, 50 idle sessions) exits 0 and prints a table without errors.
    @Test func tinyRunPrintsTable() async throws {
        let result = try await BenchmarkSmoke.run(
            ["--size", "tiny", "--rounds", "1", "--postern", BenchmarkSmoke.postern], timeout: 480)
        #expect(result.status == 0, "bench/run.sh failed:\n\(result.output)")
        #expect(result.output.contains("| workload | metric | direct | nginx | postern |"))
        #expect(result.output.contains("IMAP LOGIN/LOGOUT c4"))
        #expect(result.output.contains("idle IMAP sessions, 50"))
        #expect(result.output.contains("Errors: 0."))
        #expect(!result.output.contains("ERROR"))
    }
}
