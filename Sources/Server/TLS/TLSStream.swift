import COpenSSL
import Glibc
import Synchronization

/// A TLS connection over a connected Socket, which it takes over: the stream
/// closes it. The descriptor is non-blocking; the blocking-style helpers
/// (handshake, readSome, writeAll) wait with poll(2) up to a Deadline, and the
/// RelayEndpoint side never waits.
///
/// Used by one thread at a time (the session thread, then the relay thread;
/// see RelayEndpoint), hence `@unchecked Sendable`. It keeps its contexts
/// alive, since its SSL refers to their SSL_CTXs and ticket keys.
public final class TLSStream: RelayEndpoint, @unchecked Sendable {
    public let socket: Socket
    private let ssl: OpaquePointer
    /// Server side: the listener's contexts, read by the SNI callback.
    let contexts: TLSServerContextSet?
    private let clientContext: TLSClientContext?
    private let closed = Atomic<Bool>(false)
    private var handshakeDone = false
    private var failed = false
    private var writeShut = false
    /// close_notify could not be written yet (send buffer full); retried on the next read.
    private var shutdownPending = false
    private var readWantsWrite = false
    private var writeWantsRead = false

    /// Set by the SNI callback during the handshake (server side), or the name sent (client side).
    var sniName: String?
    var sniSelected: String?

    public private(set) var protocolVersion = ""
    public private(set) var cipherName = ""
    public private(set) var sessionReused = false
    /// nginx's $ssl_client_verify: "SUCCESS", "FAILED:<reason>", or "NONE" (no certificate).
    public private(set) var clientVerify = "NONE"
    /// X509_V_OK (0) etc.; -1 when the peer sent no certificate.
    public private(set) var clientVerifyCode = -1
    /// The certificate the client presented (server side only).
    public private(set) var clientCertificate: TLSPeerCertificate?
    /// The certificate the peer presented, either side (client side: the backend's).
    public private(set) var peerCertificate: TLSPeerCertificate?

    /// The SNI name the client sent (server side), or the one we sent (client side; nil if none).
    public var requestedServerName: String? { sniName }
    /// The `byName` entry SNI selected (its name as given), nil when the default served.
    public var selectedName: String? { sniSelected }

    /// ex_data slot on SSL pointing back to the (unretained) stream, for OpenSSL's
    /// callbacks (SNI, ALPN, session tickets).
    static let exDataIndex: Int32 = cossl_ssl_get_ex_new_index()

    /// The stream an OpenSSL callback's SSL belongs to (server side), if any.
    static func of(_ ssl: OpaquePointer) -> TLSStream? {
        guard let raw = SSL_get_ex_data(ssl, exDataIndex) else { return nil }
        return Unmanaged<TLSStream>.fromOpaque(raw).takeUnretainedValue()
    }

    private init(socket: Socket, ssl: OpaquePointer, contexts: TLSServerContextSet?, clientContext: TLSClientContext?) {
        self.socket = socket
        self.ssl = ssl
        self.contexts = contexts
        self.clientContext = clientContext
    }

    deinit { close() }

    // MARK: Handshakes

    /// Server side: handshakes until done or `deadline` (the session's pre-login
    /// timeout). On failure the socket is closed.
    public static func accept(_ socket: Socket, contexts: TLSServerContextSet, deadline: Deadline) throws(TLSError) -> TLSStream {
        let stream = try make(socket, ctx: contexts.defaultContext.ctx, contexts: contexts, clientContext: nil)
        SSL_set_ex_data(stream.ssl, exDataIndex, Unmanaged.passUnretained(stream).toOpaque())
        SSL_set_accept_state(stream.ssl)
        try stream.handshake(deadline: deadline)
        return stream
    }

    /// Client side (proxy_ssl). `serverName`: the SNI to send and, when the
    /// context verifies, the name the certificate must carry; an IP address is
    /// checked against the certificate's IP SANs and not sent (RFC 6066 §3).
    /// `sendServerName: false` checks the name without sending it (nginx's
    /// `proxy_ssl_server_name off`, its default, with `proxy_ssl_verify on`).
    /// `session`: a session from an earlier connection to offer for resumption.
    public static func connect(_ socket: Socket, context: TLSClientContext, serverName: String?, sendServerName: Bool = true,
                               deadline: Deadline, session: TLSSession? = nil) throws(TLSError) -> TLSStream {
        let stream = try make(socket, ctx: context.ctx, contexts: nil, clientContext: context)
        if let session { _ = SSL_set_session(stream.ssl, session.session) }
        if let name = serverName, !name.isEmpty {
            let isIP = isIPLiteral(name)
            if sendServerName && !isIP {
                stream.sniName = name
                _ = cossl_set_tlsext_host_name(stream.ssl, name)
            }
            if context.settings.verify {
                SSL_set_hostflags(stream.ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.ssl), name) : SSL_set1_host(stream.ssl, name)
                if ok != 1 {
                    stream.close()
                    throw OpenSSLErrors.config("cannot check the backend name \"\(name)\"")
                }
            }
        }
        SSL_set_connect_state(stream.ssl)
        try stream.handshake(deadline: deadline)
        return stream
    }

    private static func make(_ socket: Socket, ctx: OpaquePointer, contexts: TLSServerContextSet?, clientContext: TLSClientContext?) throws(TLSError) -> TLSStream {
        ERR_clear_error()
        do throws(Errno) {
            try sysSetNonBlocking(socket.fd)
        } catch {
            socket.close()
            throw .io(error)
        }
        guard let ssl = SSL_new(ctx) else {
            socket.close()
            throw .handshake("SSL_new() failed" + OpenSSLErrors.drainDetail())
        }
        let stream = TLSStream(socket: socket, ssl: ssl, contexts: contexts, clientContext: clientContext)
        if SSL_set_fd(ssl, socket.fd) != 1 {
            stream.close()
            throw .handshake("SSL_set_fd() failed" + OpenSSLErrors.drainDetail())
        }
        return stream
    }

    private func handshake(deadline: Deadline) throws(TLSError) {
        do throws(TLSError) {
            while true {
                ERR_clear_error()
                let rc = SSL_do_handshake(ssl)
                if rc == 1 { break }
                let savedErrno = errno
                switch SSL_get_error(ssl, rc) {
                case SSL_ERROR_WANT_READ: try wait(Int16(POLLIN), deadline)
                case SSL_ERROR_WANT_WRITE: try wait(Int16(POLLOUT), deadline)
                case SSL_ERROR_ZERO_RETURN: throw TLSError.closed
                case SSL_ERROR_SYSCALL:
                    let reason = OpenSSLErrors.drainReason()
                    if let reason { throw TLSError.handshake(reason) }
                    if savedErrno == 0 || rc == 0 { throw TLSError.closed }
                    throw TLSError.io(Errno(savedErrno))
                default:
                    var reason = OpenSSLErrors.drainReason() ?? "SSL_do_handshake() failed"
                    let verify = SSL_get_verify_result(ssl)
                    if verify != X509_V_OK && clientContext != nil {
                        reason += " (\(String(cString: X509_verify_cert_error_string(verify))))"
                    }
                    throw TLSError.handshake(reason)
                }
            }
        } catch {
            failed = true
            close()
            throw error
        }
        handshakeDone = true
        recordConnectionInfo()
    }

    /// Snapshots what sessions and auth_http need, while the SSL is surely alive.
    private func recordConnectionInfo() {
        protocolVersion = String(cString: SSL_get_version(ssl))
        if let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) {
            cipherName = String(cString: name)
        }
        sessionReused = SSL_session_reused(ssl) == 1
        if let peer = SSL_get1_peer_certificate(ssl) {
            defer { X509_free(peer) }
            peerCertificate = TLSPeerCertificate(x509: peer)
            if contexts != nil {
                let code = SSL_get_verify_result(ssl)
                clientVerifyCode = code
                clientVerify = code == X509_V_OK ? "SUCCESS" : "FAILED:" + String(cString: X509_verify_cert_error_string(code))
                clientCertificate = peerCertificate
            }
        }
        ERR_clear_error()
    }

    private func wait(_ events: Int16, _ deadline: Deadline) throws(TLSError) {
        let ready: Bool
        do throws(Errno) {
            ready = try socket.waitFor(events: events, deadline: deadline)
        } catch {
            throw .io(error)
        }
        if !ready { throw .timedOut }
    }

    /// The session to offer on a later connection (client side). With TLS 1.3
    /// the server sends it after the handshake, so ask after the first read.
    public var session: TLSSession? {
        if closed.load(ordering: .acquiring) { return nil }
        guard let s = SSL_get1_session(ssl) else { return nil }
        return TLSSession(owning: s)
    }

    /// Drops this connection's session from the server's cache (a rejected client).
    func forgetSession() {
        if closed.load(ordering: .acquiring) { return }
        if let session = SSL_get_session(ssl), let ctx = SSL_get_SSL_CTX(ssl) {
            _ = SSL_CTX_remove_session(ctx, session)
        }
        ERR_clear_error()
    }

    // MARK: Blocking-style I/O (pre-login phase)

    /// Reads what is available (at most `max` bytes), waiting until the deadline.
    public func readSome(max: Int, deadline: Deadline) throws(TLSError) -> ReadResult {
        var storage = [UInt8](repeating: 0, count: Swift.max(1, max))
        while true {
            if closed.load(ordering: .acquiring) { throw TLSError.closed }
            ERR_clear_error()
            var count = 0
            let ok = storage.withUnsafeMutableBytes { SSL_read_ex(ssl, $0.baseAddress, $0.count, &count) }
            if ok == 1 {
                storage.removeSubrange(count...)
                return .bytes(storage)
            }
            let savedErrno = errno
            switch SSL_get_error(ssl, ok) {
            case SSL_ERROR_WANT_READ:
                do throws(TLSError) { try wait(Int16(POLLIN), deadline) } catch .timedOut { return .timedOut }
            case SSL_ERROR_WANT_WRITE:
                do throws(TLSError) { try wait(Int16(POLLOUT), deadline) } catch .timedOut { return .timedOut }
            case SSL_ERROR_ZERO_RETURN:
                return .endOfStream
            case SSL_ERROR_SYSCALL:
                failed = true
                if let reason = OpenSSLErrors.drainReason() { throw TLSError.protocolError(reason) }
                if savedErrno == 0 { return .endOfStream }
                throw TLSError.io(Errno(savedErrno))
            default:
                failed = true
                throw TLSError.protocolError(OpenSSLErrors.drainReason() ?? "SSL_read() failed")
            }
        }
    }

    /// Writes every byte or throws; `.timedOut` if the peer does not drain in time.
    public func writeAll(_ bytes: [UInt8], deadline: Deadline) throws(TLSError) {
        var offset = 0
        while offset < bytes.count {
            if closed.load(ordering: .acquiring) { throw TLSError.closed }
            ERR_clear_error()
            var count = 0
            let ok = bytes.withUnsafeBytes { SSL_write_ex(ssl, $0.baseAddress! + offset, $0.count - offset, &count) }
            if ok == 1 { offset += count; continue }
            let savedErrno = errno
            switch SSL_get_error(ssl, ok) {
            case SSL_ERROR_WANT_WRITE: try wait(Int16(POLLOUT), deadline)
            case SSL_ERROR_WANT_READ: try wait(Int16(POLLIN), deadline)
            case SSL_ERROR_SYSCALL:
                failed = true
                if let reason = OpenSSLErrors.drainReason() { throw TLSError.protocolError(reason) }
                throw TLSError.io(Errno(savedErrno == 0 ? EPIPE : savedErrno))
            case SSL_ERROR_ZERO_RETURN:
                throw TLSError.closed
            default:
                failed = true
                throw TLSError.protocolError(OpenSSLErrors.drainReason() ?? "SSL_write() failed")
            }
        }
    }

    // MARK: RelayEndpoint

    public var fd: Int32 { socket.fd }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> RelayIO {
        if closed.load(ordering: .acquiring) { return .failed(.badFileDescriptor) }
        if shutdownPending { flushShutdown() }
        readWantsWrite = false
        ERR_clear_error()
        var count = 0
        let ok = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count)
        if ok == 1 { return .transferred(count) }
        let savedErrno = errno
        switch SSL_get_error(ssl, ok) {
        case SSL_ERROR_WANT_READ: return .wouldBlock
        case SSL_ERROR_WANT_WRITE: readWantsWrite = true; return .wouldBlock
        case SSL_ERROR_ZERO_RETURN: return .endOfStream
        case SSL_ERROR_SYSCALL:
            failed = true
            if OpenSSLErrors.drainReason() != nil { return .failed(Errno(EPROTO)) }
            return savedErrno == 0 ? .endOfStream : .failed(Errno(savedErrno))
        default:
            failed = true
            ERR_clear_error()
            return .failed(Errno(EPROTO))
        }
    }

    public func write(from buffer: UnsafeRawBufferPointer) -> RelayIO {
        if closed.load(ordering: .acquiring) { return .failed(.badFileDescriptor) }
        writeWantsRead = false
        if buffer.isEmpty { return .transferred(0) }
        ERR_clear_error()
        var count = 0
        let ok = SSL_write_ex(ssl, buffer.baseAddress, buffer.count, &count)
        if ok == 1 { return .transferred(count) }
        let savedErrno = errno
        switch SSL_get_error(ssl, ok) {
        case SSL_ERROR_WANT_WRITE: return .wouldBlock
        case SSL_ERROR_WANT_READ: writeWantsRead = true; return .wouldBlock
        case SSL_ERROR_SYSCALL:
            failed = true
            if OpenSSLErrors.drainReason() != nil { return .failed(Errno(EPROTO)) }
            return .failed(Errno(savedErrno == 0 ? EPIPE : savedErrno))
        default:
            failed = true
            ERR_clear_error()
            return .failed(Errno(EPROTO))
        }
    }

    /// Decrypted bytes waiting inside OpenSSL, which poll cannot see.
    public var hasBufferedInput: Bool {
        !closed.load(ordering: .acquiring) && SSL_pending(ssl) > 0
    }
    public var needsPollOutToRead: Bool { readWantsWrite || shutdownPending }
    public var needsPollInToWrite: Bool { writeWantsRead }

    /// Sends close_notify, then shuts the TCP write side; reading goes on
    /// (TLS 1.3 allows half-close; OpenSSL keeps reading after its close_notify).
    /// If the send buffer is full, close_notify stays pending and goes out on a
    /// later read (the stream then asks for POLLOUT) or at close.
    public func shutdownWrite() {
        if closed.load(ordering: .acquiring) || writeShut { return }
        writeShut = true
        flushShutdown()
    }

    private func flushShutdown() {
        ERR_clear_error()
        let rc = SSL_shutdown(ssl)
        let error = rc < 0 ? SSL_get_error(ssl, rc) : SSL_ERROR_NONE
        ERR_clear_error()
        shutdownPending = rc < 0 && error == SSL_ERROR_WANT_WRITE
        if rc >= 0 { try? socket.shutdownWrite() }
    }

    /// Frees the SSL and closes the socket; idempotent. A healthy connection
    /// first gets a best-effort close_notify, as nginx sends on close.
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        if handshakeDone && !failed && (!writeShut || shutdownPending) {
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
        }
        ERR_clear_error()
        SSL_set_ex_data(ssl, Self.exDataIndex, nil)
        SSL_free(ssl)
        socket.close()
    }

    public var spliceDescriptor: Int32? { nil }
}

/// True for a literal IPv4 or IPv6 address (checked against IP SANs, never sent as SNI).
func isIPLiteral(_ name: String) -> Bool {
    var v4 = in_addr(), v6 = in6_addr()
    return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
}
