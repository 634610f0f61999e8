import COpenSSL

/// A resumable TLS session held by the client side, offered again on the next
/// connection to the same backend (an abbreviated handshake).
public final class TLSSession: @unchecked Sendable {
    let session: OpaquePointer

    /// Takes over one reference to `session`.
    init(owning session: OpaquePointer) { self.session = session }

    deinit { SSL_SESSION_free(session) }

    /// Whether the server allowed this session to be resumed.
    public var isResumable: Bool { SSL_SESSION_is_resumable(session) == 1 }
}
