import COpenSSL

/// What a mail session does with the client certificate after the handshake,
/// as nginx's mail handler decides it (the handshake itself always completes).
public enum TLSClientCertificateCheck: Sendable, Equatable {
    /// Go on (verification off, or the certificate passed for this mode).
    case accepted
    /// Answer the protocol's "certificate error" reply and close; log
    /// `client SSL certificate verify error: (code:message)`.
    case verifyError(code: Int, message: String)
    /// `ssl_verify_client on` and no certificate: answer the protocol's
    /// "no certificate" reply and close; log `client sent no required SSL certificate`.
    case noCertificate
}

extension TLSStream {
    /// Applies `ssl_verify_client` to this connection. A rejected session is
    /// removed from the session cache so it cannot be resumed to skip the check.
    /// `optional_no_ca` tolerates the chain errors nginx lists as optional
    /// (self-signed, issuer not found locally, untrusted, unverifiable leaf).
    public func checkClientCertificate(_ mode: SSLVerifyClient) -> TLSClientCertificateCheck {
        if mode == .off { return .accepted }
        let code = clientVerifyCode
        if code > 0 && !(mode == .optionalNoCA && Self.isOptionalVerifyError(code)) {
            forgetSession()
            return .verifyError(code: code, message: String(clientVerify.dropFirst("FAILED:".count)))
        }
        if mode == .on && clientCertificate == nil {
            forgetSession()
            return .noCertificate
        }
        return .accepted
    }

    /// nginx's ngx_ssl_verify_error_optional: errors that only mean "not from a known CA".
    static func isOptionalVerifyError(_ code: Int) -> Bool {
        [X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
         X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_CERT_UNTRUSTED,
         X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE].contains(Int32(code))
    }
}
