import Glibc

/// A failed system call: the errno value and its strerror text.
///
/// The one error type of the engine layer; sockets, listeners, the relay and the
/// log all throw it. `ETIMEDOUT` doubles as "a deadline passed" for our own waits.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32

    public init(_ code: Int32) { self.code = code }

    /// The errno of the calling thread, read right after a failed call.
    static var current: Errno { Errno(errno) }

    /// strerror_r text, e.g. "Connection refused".
    public var message: String {
        var buffer = [CChar](repeating: 0, count: 128)
        // Glibc's module exposes the XSI strerror_r: 0 and the text in our buffer.
        let text = buffer.withUnsafeMutableBufferPointer { buf -> String in
            guard strerror_r(code, buf.baseAddress!, buf.count) == 0 else { return "Unknown error \(code)" }
            return String(cString: buf.baseAddress!)
        }
        return text
    }

    /// nginx's spelling in log lines: `(111: Connection refused)`.
    public var description: String { "(\(code): \(message))" }

    public static let interrupted = Errno(EINTR)
    public static let wouldBlock = Errno(EAGAIN)
    public static let inProgress = Errno(EINPROGRESS)
    public static let timedOut = Errno(ETIMEDOUT)
    public static let connectionRefused = Errno(ECONNREFUSED)
    public static let connectionReset = Errno(ECONNRESET)
    public static let brokenPipe = Errno(EPIPE)
    public static let badFileDescriptor = Errno(EBADF)
    public static let tooManyOpenFiles = Errno(EMFILE)
    public static let tooManyOpenFilesInSystem = Errno(ENFILE)
    public static let invalidArgument = Errno(EINVAL)
    public static let noEntry = Errno(ENOENT)
    public static let addressInUse = Errno(EADDRINUSE)
    public static let noSuchProcess = Errno(ESRCH)
}
