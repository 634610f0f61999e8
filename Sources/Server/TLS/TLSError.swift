import COpenSSL
import Glibc

/// What the TLS layer reports: building a context, a handshake, or I/O on an
/// established connection. Messages carry OpenSSL's own reason text, which is
/// what an operator greps for (nginx logs the same strings).
public enum TLSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Building a context failed; names the file or directive and OpenSSL's reason,
    /// e.g. `cannot load certificate "/x/a.pem": PEM_read_bio_X509_AUX() failed (SSL: error:...)`.
    case config(String)
    /// The handshake failed; OpenSSL's reason, e.g. "wrong version number".
    case handshake(String)
    /// The deadline passed while waiting for the peer.
    case timedOut
    /// The peer closed the connection (during a handshake, or without data).
    case closed
    case io(Errno)
    /// A TLS-level failure after the handshake (bad record MAC, alert, ...).
    case protocolError(String)

    public var description: String {
        switch self {
        case .config(let m): return m
        case .handshake(let m): return "SSL handshake failed: \(m)"
        case .timedOut: return "timed out"
        case .closed: return "peer closed connection"
        case .io(let e): return "I/O error \(e)"
        case .protocolError(let m): return "SSL error: \(m)"
        }
    }
}

/// OpenSSL's per-thread error queue, read and emptied.
enum OpenSSLErrors {
    /// Every queued error as nginx prints it: ` (SSL: error:...:reason) (SSL: ...)`,
    /// oldest first; empties the queue. Empty string when nothing is queued.
    static func drainDetail() -> String {
        var parts: [String] = []
        for _ in 0..<32 {
            let code = ERR_get_error()
            if code == 0 { break }
            parts.append("(SSL: \(errorString(code)))")
        }
        ERR_clear_error()
        return parts.isEmpty ? "" : " " + parts.joined(separator: " ")
    }

    /// The reason text of the oldest queued error (e.g. "wrong version number"),
    /// or nil when the queue is empty; empties the queue.
    static func drainReason() -> String? {
        let code = ERR_get_error()
        ERR_clear_error()
        if code == 0 { return nil }
        if let r = ERR_reason_error_string(code) { return String(cString: r) }
        return errorString(code)
    }

    /// ERR_error_string_n's text, e.g. "error:0A00010B:SSL routines::wrong version number".
    static func errorString(_ code: UInt) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        buffer.withUnsafeMutableBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { ERR_error_string_n(code, $0, b.count) }
        }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// A `.config` error: `what` plus the drained queue.
    static func config(_ what: String) -> TLSError {
        .config(what + drainDetail())
    }
}
