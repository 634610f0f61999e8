import COpenSSL
import Glibc

/// The client certificate as nginx's $ssl_client_* variables show it; the
/// auth_http request forwards these (Auth-SSL-Subject, -Issuer, -Serial,
/// -Fingerprint, -Cert).
public struct TLSPeerCertificate: Sendable, Equatable {
    /// $ssl_client_s_dn: RFC 2253 form, e.g. "CN=alice,O=Postern Test".
    public var subject: String
    /// $ssl_client_i_dn.
    public var issuer: String
    /// $ssl_client_serial: uppercase hex.
    public var serial: String
    /// $ssl_client_fingerprint: SHA-1 of the DER, lowercase hex, no colons.
    public var fingerprint: String
    /// $ssl_client_raw_cert: the PEM text.
    public var pem: String

    public init(subject: String, issuer: String, serial: String, fingerprint: String, pem: String) {
        self.subject = subject
        self.issuer = issuer
        self.serial = serial
        self.fingerprint = fingerprint
        self.pem = pem
    }

    /// Reads the fields of an X509 (not consumed).
    init(x509: OpaquePointer) {
        subject = Self.memoryBIOText { X509_NAME_print_ex($0, X509_get_subject_name(x509), 0, cossl_xn_flag_rfc2253()) }
        issuer = Self.memoryBIOText { X509_NAME_print_ex($0, X509_get_issuer_name(x509), 0, cossl_xn_flag_rfc2253()) }
        serial = Self.memoryBIOText { i2a_ASN1_INTEGER($0, X509_get_serialNumber(x509)) }
        pem = Self.memoryBIOText { PEM_write_bio_X509($0, x509) }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        if X509_digest(x509, EVP_sha1(), &digest, &length) == 1 {
            let hex: [Character] = Array("0123456789abcdef")
            fingerprint = String(digest[0..<Int(length)].flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] })
        } else {
            fingerprint = ""
        }
        ERR_clear_error()
    }

    /// Runs a printer into a memory BIO and returns what it wrote.
    private static func memoryBIOText(_ printer: (OpaquePointer) -> Int32) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        _ = printer(bio)
        var pointer: UnsafeMutablePointer<CChar>?
        let length = cossl_bio_get_mem_data(bio, &pointer)
        guard length > 0, let pointer else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}
