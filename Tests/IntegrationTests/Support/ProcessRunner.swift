import Foundation

/// What a finished child process left behind.
struct ProcessOutput {
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut: Bool

    /// The last stdout line parsed as a JSON object (the client scripts print one).
    var json: [String: Any] {
        let line = stdout.split(separator: "\n").last.map(String.init) ?? ""
        let object = try? JSONSerialization.jsonObject(with: Data(line.utf8))
        return object as? [String: Any] ?? [:]
    }
}

enum ProcessRunnerError: Error, CustomStringConvertible {
    case launchFailed(String, any Error)

    var description: String {
        switch self {
        case .launchFailed(let path, let error): "could not launch \(path): \(error)"
        }
    }
}

/// Runs helper programs with a hard time bound. Output goes to temporary files, not
/// pipes: a daemon started by the child may inherit a pipe and keep it open forever.
enum ProcessRunner {
    /// A started child and the files its output goes to.
    struct Launched {
        let process: Process
        let scratch: URL
        let handles: [FileHandle]

        /// Collects the output and removes the scratch files.
        func finish(timedOut: Bool) -> ProcessOutput {
            for handle in handles { try? handle.close() }
            defer { try? FileManager.default.removeItem(at: scratch) }
            let stdout = (try? String(contentsOf: scratch.appendingPathComponent("stdout"), encoding: .utf8)) ?? ""
            let stderr = (try? String(contentsOf: scratch.appendingPathComponent("stderr"), encoding: .utf8)) ?? ""
            return ProcessOutput(
                status: process.isRunning ? -1 : process.terminationStatus,
                stdout: stdout, stderr: stderr, timedOut: timedOut)
        }
    }

    static func launch(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> Launched {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("postern-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outHandle
        process.standardError = errHandle
        do {
            try process.run()
        } catch {
            try? outHandle.close()
            try? errHandle.close()
            try? FileManager.default.removeItem(at: scratch)
            throw ProcessRunnerError.launchFailed(executable, error)
        }
        return Launched(process: process, scratch: scratch, handles: [outHandle, errHandle])
    }

    /// Runs to completion, suspending (not blocking a thread of the test pool) while it waits.
    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        timeout: Double = 60
    ) async throws -> ProcessOutput {
        let launched = try launch(executable, arguments, environment: environment)
        let timedOut = !(await waitForExit(launched.process, seconds: timeout))
        if timedOut {
            launched.process.terminate()
            _ = await waitForExit(launched.process, seconds: 5)
        }
        return launched.finish(timedOut: timedOut)
    }

    /// The blocking form, for the test gate (a trait condition cannot await).
    static func runBlocking(_ executable: String, _ arguments: [String], timeout: Double = 60) throws -> ProcessOutput {
        let launched = try launch(executable, arguments, environment: [:])
        let timedOut = !waitForExitBlocking(launched.process, seconds: timeout)
        if timedOut {
            launched.process.terminate()
            _ = waitForExitBlocking(launched.process, seconds: 5)
        }
        return launched.finish(timedOut: timedOut)
    }

    /// Polls until the process exits or the bound passes; true when it exited.
    static func waitForExit(_ process: Process, seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    static func waitForExitBlocking(_ process: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return true
    }

    /// Runs a Python script from Fixtures/clients and returns its output.
    static func client(_ script: String, _ arguments: [String], timeout: Double = 90) async throws -> ProcessOutput {
        let path = Repository.fixtures.appendingPathComponent("clients/\(script)").path
        return try await run("/usr/bin/env", ["python3", path] + arguments, timeout: timeout)
    }
}

/// Paths inside the repository, found from this file's location so tests run from any directory.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // IntegrationTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    static let fixtures = root.appendingPathComponent("Tests/IntegrationTests/Fixtures")
    static let scripts = root.appendingPathComponent("scripts")
}

