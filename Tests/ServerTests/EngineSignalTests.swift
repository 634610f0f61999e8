import Foundation
import Glibc
import Testing
@testable import Server
import TestSupport

@Suite struct EngineSignalTests {
    /// A blocked USR1 sent to this thread is returned by waitForSignal as reopenLogs.
    @Test func sigwaitReturnsTypedSignal() {
        Signals.blockProcessSignals()
        defer { Signals.unblockOnThisThread() }
        pthread_kill(pthread_self(), SIGUSR1)
        #expect(Signals.waitForSignal() == .reopenLogs)
        pthread_kill(pthread_self(), SIGQUIT)
        #expect(Signals.waitForSignal() == .gracefulStop)
    }

    /// -s names map to nginx's signals.
    @Test func commandLineNames() {
        #expect(ProcessSignal(commandLineName: "stop")?.number == SIGTERM)
        #expect(ProcessSignal(commandLineName: "quit")?.number == SIGQUIT)
        #expect(ProcessSignal(commandLineName: "reload")?.number == SIGHUP)
        #expect(ProcessSignal(commandLineName: "reopen")?.number == SIGUSR1)
        #expect(ProcessSignal(commandLineName: "restart") == nil)
    }

    /// The pid file holds the pid and a newline, reads back, and is removed.
    @Test func pidFileRoundTrip() throws {
        let path = engineTempPath("p.pid")
        try PidFile.write(path: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "\(getpid())\n")
        #expect(try PidFile.read(path: path) == getpid())
        PidFile.remove(path: path)
        #expect(throws: PidFileError.self) { try PidFile.read(path: path) }
    }

    /// -s sends the signal to the pid in the file (checked with a child that dies of TERM).
    @Test func signalRunningProcess() throws {
        // Spawned with an empty signal mask: another test blocks TERM on a shared
        // test thread, and a child would inherit that mask.
        let child = try SpawnedProcess("/bin/sleep", ["30"])
        let pid = child.pid
        let path = engineTempPath("c.pid")
        defer { PidFile.remove(path: path) }
        try PidFile.write(path: path, pid: pid)
        try PidFile.signalRunningProcess(.fastStop, pidPath: path)
        #expect(child.waitForExit(seconds: 10))
        #expect(child.terminatingSignal == SIGTERM)
    }

    /// A pid file with garbage is refused with nginx's wording.
    @Test func invalidPid() throws {
        let path = engineTempPath("bad.pid")
        defer { unlink(path) }
        try "abc\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: PidFileError.invalidPid(path: path, content: "abc")) { try PidFile.read(path: path) }
    }
}
