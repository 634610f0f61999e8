import COpenSSL
import Glibc

/// One SSL_CTX for a server block, built from its ssl_* settings with nginx's
/// meaning (ngx_mail_ssl_module). Immutable once built, so it is shared by all
/// session threads; OpenSSL's SSL_CTX is thread-safe for SSL_new and its
/// internal session cache has its own lock.
///
/// Not supported: `ssl_certificate_compression` (ignored) and `data:` certificates.
public final class TLSServerContext: @unchecked Sendable {
    let ctx: OpaquePointer
    let ticketKeys: TLSTicketKeys?
    public let settings: SSLSettings

    public init(settings: SSLSettings) throws(TLSError) {
        self.settings = settings
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw OpenSSLErrors.config("SSL_CTX_new() failed")
        }
        do throws(TLSError) {
            ticketKeys = settings.sessionTicketKeys.isEmpty ? nil : try TLSTicketKeys(files: settings.sessionTicketKeys)
            try Self.configure(ctx, settings)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        self.ctx = ctx
        if let ticketKeys {
            SSL_CTX_set_ex_data(ctx, TLSTicketKeys.exDataIndex, Unmanaged.passUnretained(ticketKeys).toOpaque())
            _ = SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, TLSTicketKeys.callback)
        }
        // Every context can serve as a listener's default, whose SNI callback picks the others.
        _ = cossl_ctx_set_servername_cb(ctx, TLSServerContextSet.servernameCallback)
        SSL_CTX_set_alpn_select_cb(ctx, TLSServerContextSet.alpnCallback, nil)
    }

    deinit { SSL_CTX_free(ctx) }

    private static func configure(_ ctx: OpaquePointer, _ s: SSLSettings) throws(TLSError) {
        SSL_CTX_set_options(ctx, cossl_op_no_compression() | cossl_op_no_renegotiation() | cossl_op_ignore_unexpected_eof())
        _ = cossl_ctx_set_mode(ctx, cossl_mode_relay())
        TLSContextLoading.applyProtocols(ctx, s.protocols)
        try TLSContextLoading.applyCiphers(ctx, s.ciphers)
        if s.preferServerCiphers { SSL_CTX_set_options(ctx, cossl_op_cipher_server_preference()) }

        if s.certificates.isEmpty {
            throw .config("no \"ssl_certificate\" is defined")
        }
        if s.certificateKeys.count < s.certificates.count {
            throw .config("no \"ssl_certificate_key\" is defined for certificate \"\(s.certificates[s.certificates.count - 1])\"")
        }
        let passwords = try s.passwordFile.map { (p: String) throws(TLSError) in try TLSContextLoading.readPasswords(p) } ?? []
        for (cert, key) in zip(s.certificates, s.certificateKeys) {
            try TLSContextLoading.useCertificate(ctx, path: cert)
            try TLSContextLoading.usePrivateKey(ctx, path: key, passwords: passwords)
        }

        if let dh = s.dhparam { try TLSContextLoading.useDHParams(ctx, path: dh) }
        // "auto": OpenSSL's default group list, as nginx on OpenSSL 1.1+.
        if s.ecdhCurve != "auto" && cossl_ctx_set1_groups_list(ctx, s.ecdhCurve) == 0 {
            throw OpenSSLErrors.config("SSL_CTX_set1_curves_list(\"\(s.ecdhCurve)\") failed")
        }

        try configureVerification(ctx, s)
        configureSessions(ctx, s)
        try applyConfCommands(ctx, s.confCommands)
        ERR_clear_error()
    }

    /// `ssl_verify_client`: the certificate is requested but never fails the
    /// handshake (nginx's verify callback always accepts); the session reads
    /// the verify result afterwards and answers in its protocol.
    private static func configureVerification(_ ctx: OpaquePointer, _ s: SSLSettings) throws(TLSError) {
        // As nginx, the CA files and the CRL are read only when clients are verified.
        if s.verifyClient != .off {
            if s.verifyClient != .optionalNoCA && s.clientCertificate == nil && s.trustedCertificate == nil {
                throw .config("no ssl_client_certificate or ssl_trusted_certificate for ssl_verify_client")
            }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, acceptAnyVerifyResult)
            SSL_CTX_set_verify_depth(ctx, Int32(clamping: s.verifyDepth))
            if let ca = s.clientCertificate {
                try TLSContextLoading.loadVerifyLocations(ctx, path: ca)
                // The CA names sent in CertificateRequest so clients pick a matching certificate.
                guard let names = SSL_load_client_CA_file(ca) else {
                    throw OpenSSLErrors.config("SSL_load_client_CA_file(\"\(ca)\") failed")
                }
                SSL_CTX_set_client_CA_list(ctx, names)
            }
            if let trusted = s.trustedCertificate {
                try TLSContextLoading.loadVerifyLocations(ctx, path: trusted)
            }
            if let crl = s.crl {
                guard let store = SSL_CTX_get_cert_store(ctx),
                      let lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file()) else {
                    throw OpenSSLErrors.config("X509_STORE_add_lookup() failed")
                }
                if X509_load_crl_file(lookup, crl, X509_FILETYPE_PEM) == 0 {
                    throw OpenSSLErrors.config("X509_LOOKUP_load_file(\"\(crl)\") failed")
                }
                X509_STORE_set_flags(store, cossl_crl_check_all())
            }
        }
        // Without a session id context OpenSSL refuses to resume sessions of a
        // context that verifies clients; derive it from what makes this context distinct.
        var material = (s.certificates + s.certificateKeys).joined(separator: "\n")
        material += "\n\(s.verifyClient.rawValue)\n\(s.clientCertificate ?? "")\n\(s.trustedCertificate ?? "")\n\(s.crl ?? "")"
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let bytes = Array(material.utf8)
        _ = EVP_Digest(bytes, bytes.count, &digest, &length, EVP_sha256(), nil)
        _ = SSL_CTX_set_session_id_context(ctx, digest, min(length, UInt32(SSL_MAX_SID_CTX_LENGTH)))
    }

    /// `ssl_session_cache`, `ssl_session_timeout`, `ssl_session_tickets`.
    private static func configureSessions(_ ctx: OpaquePointer, _ s: SSLSettings) {
        switch s.sessionCache {
        case .off:
            _ = cossl_ctx_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
        case .unset, .none:
            // nginx's default: clients are told sessions may be resumed (a session
            // id is issued) but nothing is stored, so only tickets resume.
            _ = cossl_ctx_set_session_cache_mode(ctx, cossl_sess_cache_server_no_store())
        case .caches(let builtin, _, let sharedSize):
            // One in-process cache serves every thread. A shared zone's size is
            // turned into sessions as nginx estimates: about 4000 per megabyte.
            var sessions = builtin ?? 0
            if let sharedSize { sessions += max(1, sharedSize / 262) }
            _ = cossl_ctx_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_SERVER))
            _ = cossl_ctx_sess_set_cache_size(ctx, max(1, sessions))
        }
        _ = SSL_CTX_set_timeout(ctx, Int(clamping: s.sessionTimeoutSeconds))
        if !s.sessionTickets { SSL_CTX_set_options(ctx, cossl_op_no_ticket()) }
    }

    /// `ssl_conf_command name value`: applied last, so it can override anything above.
    private static func applyConfCommands(_ ctx: OpaquePointer, _ commands: [(name: String, value: String)]) throws(TLSError) {
        if commands.isEmpty { return }
        guard let cctx = SSL_CONF_CTX_new() else { throw OpenSSLErrors.config("SSL_CONF_CTX_new() failed") }
        defer { SSL_CONF_CTX_free(cctx) }
        _ = SSL_CONF_CTX_set_flags(cctx, UInt32(SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER | SSL_CONF_FLAG_CERTIFICATE))
        SSL_CONF_CTX_set_ssl_ctx(cctx, ctx)
        for command in commands where SSL_CONF_cmd(cctx, command.name, command.value) <= 0 {
            throw OpenSSLErrors.config("SSL_CONF_cmd(\"\(command.name)\", \"\(command.value)\") failed")
        }
        if SSL_CONF_CTX_finish(cctx) != 1 { throw OpenSSLErrors.config("SSL_CONF_finish() failed") }
    }
}

/// nginx's verify callback: accept whatever the chain check said; the result
/// stays readable through SSL_get_verify_result.
let acceptAnyVerifyResult: cossl_verify_cb = { _, _ in 1 }
