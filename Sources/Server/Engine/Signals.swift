import Glibc

/// What an operator asked for, by signal (nginx's meanings).
public enum ProcessSignal: Sendable, Equatable, CaseIterable {
    /// TERM or INT: close everything now.
    case fastStop
    /// QUIT: stop accepting, let sessions finish, then exit.
    case gracefulStop
    /// HUP: re-read the configuration; a bad one is refused.
    case reload
    /// USR1: reopen log files after rotation.
    case reopenLogs

    /// The signal `-s` sends for this request.
    public var number: Int32 {
        switch self {
        case .fastStop: SIGTERM
        case .gracefulStop: SIGQUIT
        case .reload: SIGHUP
        case .reopenLogs: SIGUSR1
        }
    }

    /// nginx's `-s` names: stop, quit, reload, reopen.
    public init?(commandLineName: String) {
        switch commandLineName {
        case "stop": self = .fastStop
        case "quit": self = .gracefulStop
        case "reload": self = .reload
        case "reopen": self = .reopenLogs
        default: return nil
        }
    }

    init?(number: Int32) {
        switch number {
        case SIGTERM, SIGINT: self = .fastStop
        case SIGQUIT: self = .gracefulStop
        case SIGHUP: self = .reload
        case SIGUSR1: self = .reopenLogs
        default: return nil
        }
    }
}

/// Signal handling without handlers: the signals are blocked in every thread
/// and the main thread takes them synchronously with sigwait. No code runs in
/// signal context, and no thread is interrupted mid-syscall.
public enum Signals {
    static let handled: [Int32] = [SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1]

    private static func handledSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in handled { sigaddset(&set, s) }
        return set
    }

    /// Call first in main, before any thread starts (threads inherit the mask).
    /// Also ignores SIGPIPE: a write to a closed peer returns EPIPE instead of
    /// killing the process (OpenSSL's SSL_write uses plain write()).
    public static func blockProcessSignals() {
        signal(SIGPIPE, SIG_IGN)
        var set = handledSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Unblocks them again on the calling thread (tests only).
    static func unblockOnThisThread() {
        var set = handledSet()
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Blocks the calling thread until one of the handled signals arrives.
    public static func waitForSignal() -> ProcessSignal {
        var set = handledSet()
        while true {
            var number: Int32 = 0
            if sigwait(&set, &number) == 0, let signal = ProcessSignal(number: number) { return signal }
        }
    }
}
