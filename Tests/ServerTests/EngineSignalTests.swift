import Foundation
import Glibc
import Testing
@testable import Server

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
        // posix_spawn with an empty signal mask: another test blocks TERM on a
        // shared test thread, and a child would inherit that mask.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("30"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, &attributes, argv, nil) == 0)
        let path = engineTempPath("c.pid")
        defer { PidFile.remove(path: path) }
        try PidFile.write(path: path, pid: pid)
        try PidFile.signalRunningProcess(.fastStop, pidPath: path)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(status & 0x7f == SIGTERM)
    }

    /// A pid file with garbage is refused with nginx's wording.
    @Test func invalidPid() throws {
        let path = engineTempPath("bad.pid")
        defer { unlink(path) }
        try "abc\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: PidFileError.invalidPid(path: path, content: "abc")) { try PidFile.read(path: path) }
    }
}
