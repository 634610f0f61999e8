import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn and reaped with our own waitpid,
/// for daemons that close every descriptor they inherit (dnsmasq does).
/// Foundation's `Process` learns of a child's exit through a socket the child
/// inherits: when the child closes it early, Foundation's one monitor thread
/// blocks in waitpid for that child until it really exits, and no other
/// `Process` in the test run is seen to exit meanwhile: every
/// `waitUntilExit()` of the whole run hung behind one dnsmasq.
public final class SpawnedProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var status: Int32?

    public enum SpawnError: Error { case failed(String, Int32) }

    /// Starts `path` with `arguments`; stdin from /dev/null, stdout and stderr to
    /// `outputPath` (appended) or /dev/null; `environment`, or the test process's.
    /// The child's signal mask is cleared and the stop signals have their default
    /// action: a test thread may have blocked or caught them, and a child would
    /// inherit that.
    public init(_ path: String, _ arguments: [String], outputPath: String? = nil,
                environment: [String: String]? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let output = outputPath ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGPIPE] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for p in envp ?? [] { free(p) } }
        var child: pid_t = 0
        let rc = envp.map { posix_spawn(&child, path, &actions, &attributes, argv, $0) }
            ?? posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw SpawnError.failed(path, rc) }
        pid = child
    }

    /// The wait status once the child was reaped (`isRunning` false), else nil.
    public var waitStatus: Int32? {
        _ = isRunning
        lock.lock()
        defer { lock.unlock() }
        return status
    }

    /// As Foundation's `terminationStatus`: the exit code, or the number of the
    /// signal that ended the child; nil while it runs.
    public var terminationStatus: Int32? {
        guard let status = waitStatus else { return nil }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    /// The signal that ended the child, if one did.
    public var terminatingSignal: Int32? {
        guard let status = waitStatus, status & 0x7f != 0, status & 0x7f != 0x7f else { return nil }
        return status & 0x7f
    }

    /// Waits until the child exits, at most `seconds`; true when it did.
    public func waitForExit(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning {
            if Date() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// False once the child exited (it is then reaped).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if status != nil { return false }
        var raw: Int32 = 0
        let reaped = waitpid(pid, &raw, WNOHANG)
        if reaped == pid || (reaped < 0 && errno == ECHILD) {
            status = raw
            return false
        }
        return true
    }

    /// SIGKILL, then waits (bounded) until it is reaped.
    public func kill() {
        guard isRunning else { return }
        Glibc.kill(pid, SIGKILL)
        for _ in 0..<500 where isRunning { usleep(10_000) }
    }

    deinit { kill() }
}
