import COpenSSL
import Glibc

/// What one TLS listener offers: the default context, and others chosen by the
/// name the client sends in SNI (RFC 6066 §3), as nginx picks the server block
/// whose server_name matches.
public final class TLSServerContextSet: @unchecked Sendable {
    public let defaultContext: TLSServerContext
    public let named: [(name: String, context: TLSServerContext)]
    private let matcher: TLSServerNameMatcher
    /// The listener's protocol in ALPN wire form (length-prefixed), or nil.
    private let alpnWire: UnsafeMutableBufferPointer<UInt8>?

    /// `byName` names are server_name values: exact (case-insensitive) or
    /// "*.example.org" / ".example.org" / "mail.*".
    /// `alpn`: the listener's protocol ("imap", "pop3", "smtp"). As nginx's mail
    /// module, a client that offers ALPN without it fails the handshake
    /// (no_application_protocol); a client offering no ALPN is unaffected.
    public init(default: TLSServerContext, byName: [(name: String, context: TLSServerContext)] = [], alpn: String? = nil) {
        defaultContext = `default`
        named = byName
        matcher = TLSServerNameMatcher(names: byName.map(\.name))
        if let alpn, !alpn.isEmpty, alpn.utf8.count < 256 {
            let bytes = [UInt8(alpn.utf8.count)] + Array(alpn.utf8)
            let wire = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
            _ = wire.initialize(from: bytes)
            alpnWire = wire
        } else {
            alpnWire = nil
        }
    }

    deinit { alpnWire?.deallocate() }

    /// Chooses the listener's protocol from the client's ALPN list (RFC 7301 §3.2).
    static let alpnCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
                                             UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?) -> Int32 = { ssl, out, outLength, client, clientLength, _ in
        guard let ssl, let out, let outLength, let wire = TLSStream.of(ssl)?.contexts?.alpnWire else {
            return SSL_TLSEXT_ERR_NOACK
        }
        var selected: UnsafeMutablePointer<UInt8>?
        let result = SSL_select_next_proto(&selected, outLength, wire.baseAddress, UInt32(wire.count), client, clientLength)
        guard result == OPENSSL_NPN_NEGOTIATED, let selected else { return SSL_TLSEXT_ERR_ALERT_FATAL }
        out.pointee = UnsafePointer(selected)
        return SSL_TLSEXT_ERR_OK
    }

    /// The entry for an SNI name, or nil for the default.
    func lookup(_ serverName: String) -> (name: String, context: TLSServerContext)? {
        matcher.match(serverName).map { named[$0] }
    }

    /// Installed on every server SSL_CTX. The stream being accepted is found
    /// through the SSL's ex_data; switching SSL_CTX is what makes OpenSSL use
    /// the other certificate, and the verify settings are copied over because
    /// SSL_set_SSL_CTX leaves those of the SSL as they were.
    static let servernameCallback: cossl_servername_cb = { ssl, _, _ in
        guard let ssl, let stream = TLSStream.of(ssl),
              let name = SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)) else { return SSL_TLSEXT_ERR_OK }
        let serverName = String(cString: name)
        stream.sniName = serverName
        guard let contexts = stream.contexts, let entry = contexts.lookup(serverName) else { return SSL_TLSEXT_ERR_OK }
        stream.sniSelected = entry.name
        let ctx = entry.context.ctx
        if SSL_set_SSL_CTX(ssl, ctx) == nil { return SSL_TLSEXT_ERR_ALERT_FATAL }
        SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx))
        SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx))
        SSL_clear_options(ssl, SSL_get_options(ssl) & ~SSL_CTX_get_options(ctx))
        SSL_set_options(ssl, SSL_CTX_get_options(ctx))
        return SSL_TLSEXT_ERR_OK
    }
}
