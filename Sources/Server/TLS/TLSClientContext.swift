import COpenSSL
import Glibc

/// Settings for TLS to the backend (the proxy as a TLS client), in the shape
/// of nginx's proxy_ssl_* directives.
public struct TLSClientSettings: Sendable, Equatable {
    /// Verify the backend's chain and its name.
    public var verify: Bool
    public var trustedCertificate: String?
    public var verifyDepth: Int
    public var protocols: [String]
    public var ciphers: String
    /// Client certificate to present.
    public var certificate: String?
    public var certificateKey: String?
    public var passwordFile: String?

    public init(verify: Bool = false, trustedCertificate: String? = nil, verifyDepth: Int = 1,
                protocols: [String] = ["TLSv1.2", "TLSv1.3"], ciphers: String = "DEFAULT",
                certificate: String? = nil, certificateKey: String? = nil, passwordFile: String? = nil) {
        self.verify = verify
        self.trustedCertificate = trustedCertificate
        self.verifyDepth = verifyDepth
        self.protocols = protocols
        self.ciphers = ciphers
        self.certificate = certificate
        self.certificateKey = certificateKey
        self.passwordFile = passwordFile
    }
}

/// One client SSL_CTX for connections to backends; shared by all threads.
public final class TLSClientContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let settings: TLSClientSettings

    public init(settings: TLSClientSettings) throws(TLSError) {
        self.settings = settings
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw OpenSSLErrors.config("SSL_CTX_new() failed")
        }
        do throws(TLSError) {
            try Self.configure(ctx, settings)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        self.ctx = ctx
    }

    deinit { SSL_CTX_free(ctx) }

    private static func configure(_ ctx: OpaquePointer, _ s: TLSClientSettings) throws(TLSError) {
        SSL_CTX_set_options(ctx, cossl_op_no_compression() | cossl_op_no_renegotiation() | cossl_op_ignore_unexpected_eof())
        _ = cossl_ctx_set_mode(ctx, cossl_mode_relay())
        TLSContextLoading.applyProtocols(ctx, s.protocols)
        try TLSContextLoading.applyCiphers(ctx, s.ciphers)
        if let cert = s.certificate {
            guard let key = s.certificateKey else {
                throw .config("no \"proxy_ssl_certificate_key\" is defined for certificate \"\(cert)\"")
            }
            let passwords = try s.passwordFile.map { (p: String) throws(TLSError) in try TLSContextLoading.readPasswords(p) } ?? []
            try TLSContextLoading.useCertificate(ctx, path: cert)
            try TLSContextLoading.usePrivateKey(ctx, path: key, passwords: passwords)
        }
        if s.verify {
            guard let trusted = s.trustedCertificate else {
                throw .config("no proxy_ssl_trusted_certificate for proxy_ssl_verify")
            }
            try TLSContextLoading.loadVerifyLocations(ctx, path: trusted)
            // The default callback: a bad chain or name fails the handshake.
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            SSL_CTX_set_verify_depth(ctx, Int32(clamping: s.verifyDepth))
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        ERR_clear_error()
    }
}
