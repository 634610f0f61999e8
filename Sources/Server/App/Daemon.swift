import Glibc

/// nginx's `daemon on`: detach from the terminal before any thread exists
/// (fork() in a threaded process keeps only the calling thread).
/// Returns false in the parent, which should exit, or on failure.
enum Daemon {
    static func detach() -> Result<Bool, Errno> {
        let pid = fork()
        if pid < 0 { return .failure(Errno(errno)) }
        if pid > 0 { return .success(false) }
        _ = setsid()
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            dup2(null, STDIN_FILENO)
            dup2(null, STDOUT_FILENO)
            if null > STDERR_FILENO { close(null) }
        }
        return .success(true)
    }
}
