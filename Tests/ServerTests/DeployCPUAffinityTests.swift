import Foundation
import TestSupport
import Glibc
import Testing
@testable import Server

@Suite(.serialized) struct DeployCPUAffinityTests {
    /// `worker_cpu_affinity 01;` binds every thread of the running process to
    /// CPU 0 (CPU 0 exists on every machine); a reload without the directive
    /// gives the threads back the CPUs the process started with.
    @Test func everyThreadIsBoundAndReloadUnbinds() throws {
        guard posternBinary != nil else { return }
        let dir = try makeTempDirectory("affinity")
        let port = freeLoopbackPort()
        let server = "listen 127.0.0.1:\(port); protocol imap;"
        let bound = minimalConfig(dir: dir, level: "notice", main: "worker_cpu_affinity 01;", servers: [server])
        let postern = try PosternProcess(dir: dir, config: bound)
        #expect(postern.waitForLog("start serving"), "\(postern.log)")
        #expect(postern.log.contains("sched_setaffinity(): using cpu #0"), "\(postern.log)")

        let threads = allowedCPUsPerThread(pid: postern.pid)
        #expect(threads.count > 2, "\(threads)")
        #expect(threads.allSatisfy { $0 == "0" }, "\(threads)")

        let startedWith = allowedCPUsPerThread(pid: getpid()).first ?? ""
        try postern.rewriteConfig(minimalConfig(dir: dir, level: "notice", servers: [server]))
        postern.signal(SIGHUP)
        #expect(postern.waitForLog("reloaded: 1 listeners", count: 1), "\(postern.log)")
        let after = allowedCPUsPerThread(pid: postern.pid)
        #expect(!after.isEmpty && after.allSatisfy { $0 == startedWith }, "\(after) against \(startedWith)")
        #expect(postern.stop() == 0)
    }

    /// `Cpus_allowed_list` of every thread of `pid`, from /proc.
    private func allowedCPUsPerThread(pid: Int32) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { tid in
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/status", encoding: .utf8) else {
                return nil
            }
            let line = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
            return line.map { $0.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces) }
        }
    }
}
