/// Why a read or write on a session's connection failed.
enum SessionIOError: Error, CustomStringConvertible {
    case socket(Errno)
    case tls(TLSError)

    /// The errno to put in the log line, when there is one.
    var errno: Errno? {
        switch self {
        case .socket(let e): return e
        case .tls(.io(let e)): return e
        case .tls: return nil
        }
    }

    var description: String {
        switch self {
        case .socket(let e): return "\(e)"
        case .tls(let e): return "\(e)"
        }
    }
}

/// One side of a session, client or backend: the socket, and once a
/// handshake succeeded (client: `listen ... ssl` before the greeting or
/// STARTTLS later; backend: `proxy_ssl on`) the TLS stream over it. Every
/// pre-login read and write, the close, and the endpoint handed to the relay
/// go through here, so the drivers never care which one it is. Used by one
/// thread at a time.
final class SessionConnection {
    let socket: Socket
    private(set) var tls: TLSStream?

    init(_ socket: Socket) {
        self.socket = socket
    }

    func readSome(max: Int, deadline: Deadline) throws(SessionIOError) -> ReadResult {
        if let tls {
            do throws(TLSError) { return try tls.readSome(max: max, deadline: deadline) } catch { throw .tls(error) }
        }
        do throws(Errno) { return try socket.readSome(max: max, deadline: deadline) } catch { throw .socket(error) }
    }

    func writeAll(_ bytes: [UInt8], deadline: Deadline) throws(SessionIOError) {
        if let tls {
            do throws(TLSError) { try tls.writeAll(bytes, deadline: deadline) } catch { throw .tls(error) }
            return
        }
        do throws(Errno) { try socket.writeAll(bytes, deadline: deadline) } catch { throw .socket(error) }
    }

    /// The server-side handshake on the plaintext socket. Whatever the client
    /// sent before it that the session already read is gone with the session's
    /// buffer; bytes still in the socket are read by OpenSSL as TLS records,
    /// so plaintext pipelined behind STARTTLS can never become a command
    /// (RFC 3207 §4.2; the 2011 STARTTLS injection bugs). On failure the
    /// socket is closed.
    func startTLS(contexts: TLSServerContextSet, deadline: Deadline) throws(TLSError) -> TLSStream {
        precondition(tls == nil, "TLS is already active")
        let stream = try TLSStream.accept(socket, contexts: contexts, deadline: deadline)
        tls = stream
        return stream
    }

    /// The client-side handshake toward a backend (`proxy_ssl on`). On
    /// failure the socket is closed.
    func connectTLS(context: TLSClientContext, serverName: String?, sendServerName: Bool,
                    deadline: Deadline) throws(TLSError) {
        precondition(tls == nil, "TLS is already active")
        tls = try TLSStream.connect(socket, context: context, serverName: serverName, sendServerName: sendServerName,
                                    deadline: deadline)
    }

    func setNoDelay() {
        try? socket.setNoDelay()
    }

    /// The one close: the TLS stream sends close_notify and closes the socket.
    func close() {
        if let tls { tls.close() } else { socket.close() }
    }

    /// What the relay moves bytes through once the backend is logged in.
    var relayEndpoint: any RelayEndpoint {
        if let tls { return tls }
        return SocketEndpoint(socket)
    }
}
