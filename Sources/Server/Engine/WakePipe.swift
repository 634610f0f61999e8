import Glibc

/// A non-blocking pipe another thread writes one byte to, to interrupt a
/// poll(2) (new work, listener changes, stop). Several wakes coalesce.
final class WakePipe: Sendable {
    let readFD: Int32
    let writeFD: Int32

    init() throws(Errno) {
        (readFD, writeFD) = try sysPipe()
    }

    deinit {
        sysClose(readFD)
        sysClose(writeFD)
    }

    func wake() {
        var byte: UInt8 = 1
        // EAGAIN means the pipe is already full of wakes: fine.
        _ = try? withUnsafeBytes(of: &byte) { b in Result { () throws(Errno) -> Int in try sysWrite(writeFD, b) } }.get()
    }

    /// Empties the pipe after poll reported it readable.
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        for _ in 0..<64 {
            let n = (try? buffer.withUnsafeMutableBytes { b in Result { () throws(Errno) -> Int in try sysRead(readFD, into: b) } }.get()) ?? 0
            if n < buffer.count { return }
        }
    }
}
