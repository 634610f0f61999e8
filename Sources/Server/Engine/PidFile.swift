import Glibc

/// Problems with `-s SIGNAL` or the pid file, worded like nginx's.
public enum PidFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, Errno)
    case invalidPid(path: String, content: String)
    case cannotSignal(pid: Int32, Errno)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let e): "open() \"\(path)\" failed \(e)"
        case .invalidPid(let path, let content): "invalid PID number \"\(content)\" in \"\(path)\""
        case .cannotSignal(let pid, let e): "kill(\(pid)) failed \(e)"
        }
    }
}

/// The `pid` directive's file: the process id and a newline, 0644.
public enum PidFile {
    public static func write(path: String, pid: Int32? = nil) throws(PidFileError) {
        let pid = pid ?? sysGetPid()
        let fd: Int32
        do throws(Errno) {
            fd = try sysOpen(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        } catch {
            throw .cannotOpen(path: path, error)
        }
        defer { sysClose(fd) }
        let text = Array("\(pid)\n".utf8)
        do throws(Errno) {
            _ = try text.withUnsafeBytes { b in Result { () throws(Errno) -> Int in try sysWrite(fd, b) } }.get()
        } catch {
            throw .cannotOpen(path: path, error)
        }
    }

    public static func remove(path: String) {
        try? sysUnlink(path)
    }

    public static func read(path: String) throws(PidFileError) -> Int32 {
        let fd: Int32
        do throws(Errno) {
            fd = try sysOpen(path, O_RDONLY, 0)
        } catch {
            throw .cannotOpen(path: path, error)
        }
        defer { sysClose(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = (try? buffer.withUnsafeMutableBytes { b in Result { () throws(Errno) -> Int in try sysRead(fd, into: b) } }.get()) ?? 0
        let text = String(decoding: buffer.prefix(n), as: UTF8.self)
        let trimmed = text.filter { !$0.isWhitespace }
        guard let pid = Int32(trimmed), pid > 0 else { throw .invalidPid(path: path, content: trimmed) }
        return pid
    }

    /// `postern -s reload`: reads the pid file and signals that process.
    public static func signalRunningProcess(_ signal: ProcessSignal, pidPath: String) throws(PidFileError) {
        let pid = try read(path: pidPath)
        do throws(Errno) {
            try sysKill(pid, signal.number)
        } catch {
            throw .cannotSignal(pid: pid, error)
        }
    }
}
