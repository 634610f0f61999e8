import Glibc

/// The outcome of one non-blocking transfer on a relay endpoint.
public enum RelayIO: Sendable, Equatable {
    case transferred(Int)
    case endOfStream
    case wouldBlock
    case failed(Errno)
}

/// One side of a relayed pair as the relay loop sees it: a descriptor to poll
/// and non-blocking read/write. Plain sockets use `SocketEndpoint`; a TLS
/// endpoint (later) wraps an SSL* on the same descriptor.
///
/// Ownership: an endpoint is used by one thread at a time: the session thread
/// until `RelayEngine.add`, then only its relay thread, which also closes it.
/// A TLS endpoint is therefore a final class that may declare
/// `@unchecked Sendable` on the strength of that hand-over.
///
/// What TLS will need from the loop, and why these members exist:
/// - `hasBufferedInput`: SSL_read decrypts a whole record, so plaintext can sit
///   in OpenSSL (SSL_pending() > 0) while the socket has nothing to read; poll
///   would never wake for it. The loop reads such an endpoint without waiting.
/// - `needsPollOutToRead` / `needsPollInToWrite`: SSL_read can fail with
///   SSL_ERROR_WANT_WRITE and SSL_write with SSL_ERROR_WANT_READ (key updates,
///   renegotiation); the endpoint reports `.wouldBlock` and asks for the other
///   poll event until the retry succeeds.
/// - `shutdownWrite`: send close_notify (SSL_shutdown) before shutdown(SHUT_WR).
public protocol RelayEndpoint: AnyObject, Sendable {
    /// The descriptor to poll.
    var fd: Int32 { get }
    func read(into buffer: UnsafeMutableRawBufferPointer) -> RelayIO
    func write(from buffer: UnsafeRawBufferPointer) -> RelayIO
    var hasBufferedInput: Bool { get }
    var needsPollOutToRead: Bool { get }
    var needsPollInToWrite: Bool { get }
    /// Half-close: the peer reads end of stream; reading continues.
    func shutdownWrite()
    func close()
    /// A plain socket descriptor the relay may splice(2) from and to; nil for TLS.
    var spliceDescriptor: Int32? { get }
}

extension RelayEndpoint {
    public var hasBufferedInput: Bool { false }
    public var needsPollOutToRead: Bool { false }
    public var needsPollInToWrite: Bool { false }
    public var spliceDescriptor: Int32? { nil }
}

/// A plaintext TCP or unix socket as a relay endpoint.
public final class SocketEndpoint: RelayEndpoint {
    public let socket: Socket

    public init(_ socket: Socket) {
        self.socket = socket
        // The relay loop must never block in read/write.
        if !socket.isKnownNonBlocking { try? sysSetNonBlocking(socket.fd) }
    }

    public var fd: Int32 { socket.fd }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> RelayIO {
        do throws(Errno) {
            let n = try socket.read(into: buffer)
            return n == 0 ? .endOfStream : .transferred(n)
        } catch {
            return error == .wouldBlock ? .wouldBlock : .failed(error)
        }
    }

    public func write(from buffer: UnsafeRawBufferPointer) -> RelayIO {
        do throws(Errno) {
            return .transferred(try socket.write(buffer))
        } catch {
            return error == .wouldBlock ? .wouldBlock : .failed(error)
        }
    }

    public func shutdownWrite() { try? socket.shutdownWrite() }
    public func close() { socket.close() }
    public var spliceDescriptor: Int32? { socket.fd }
}
