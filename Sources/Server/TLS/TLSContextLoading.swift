import COpenSSL
import Glibc

// Loading files into an SSL_CTX, shared by the server and client contexts.
// Error texts follow nginx's (`cannot load certificate "..."`, `SSL_CTX_...("...")
// failed`) with OpenSSL's error queue appended, so operators see the same lines.

enum TLSContextLoading {
    /// SSL_OP_NO_* for every protocol not listed, as nginx's `ssl_protocols`:
    /// the version range is opened fully and the listed ones are let through.
    static func protocolOptions(_ protocols: [String]) -> UInt64 {
        let all: [(String, UInt64)] = [
            ("SSLv2", cossl_op_no_sslv2()), ("SSLv3", cossl_op_no_sslv3()),
            ("TLSv1", cossl_op_no_tlsv1()), ("TLSv1.1", cossl_op_no_tlsv1_1()),
            ("TLSv1.2", cossl_op_no_tlsv1_2()), ("TLSv1.3", cossl_op_no_tlsv1_3()),
        ]
        var options: UInt64 = 0
        for (name, flag) in all where !protocols.contains(name) { options |= flag }
        return options
    }

    /// Applies `ssl_protocols`: min version 0 (lowest the library has), max TLSv1.3,
    /// then the SSL_OP_NO_* mask, the way nginx does it.
    static func applyProtocols(_ ctx: OpaquePointer, _ protocols: [String]) {
        _ = cossl_ctx_set_min_proto_version(ctx, 0)
        _ = cossl_ctx_set_max_proto_version(ctx, TLS1_3_VERSION)
        let allNo = protocolOptions([])
        SSL_CTX_clear_options(ctx, allNo)
        SSL_CTX_set_options(ctx, protocolOptions(protocols))
    }

    static func applyCiphers(_ ctx: OpaquePointer, _ ciphers: String) throws(TLSError) {
        if SSL_CTX_set_cipher_list(ctx, ciphers) == 0 {
            throw OpenSSLErrors.config("SSL_CTX_set_cipher_list(\"\(ciphers)\") failed")
        }
    }

    /// The lines of an `ssl_password_file`, each tried in turn; CR/LF stripped.
    static func readPasswords(_ path: String) throws(TLSError) -> [String] {
        guard let bytes = readFile(path) else {
            throw OpenSSLErrors.config("cannot open \"\(path)\"")
        }
        var lines: [String] = []
        for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            var line = Array(raw)
            while let last = line.last, last == UInt8(ascii: "\r") || last == UInt8(ascii: "\n") { line.removeLast() }
            if line.isEmpty { continue }
            if line.count > 4095 { throw .config("too long line in \"\(path)\"") }
            lines.append(String(decoding: line, as: UTF8.self))
        }
        if lines.isEmpty { throw .config("empty file \"\(path)\"") }
        return lines
    }

    /// A whole small file through a BIO (certificates, keys, ticket keys), or nil.
    static func readFile(_ path: String) -> [UInt8]? {
        guard let bio = BIO_new_file(path, "rb") else { return nil }
        defer { BIO_free(bio) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<4096 {
            let n = BIO_read(bio, &chunk, Int32(chunk.count))
            if n <= 0 { break }
            out += chunk[0..<Int(n)]
        }
        return out
    }

    /// `ssl_certificate`: the leaf then any chain certificates in the same file.
    /// Several calls add several certificates (RSA, ECDSA); OpenSSL picks per client.
    static func useCertificate(_ ctx: OpaquePointer, path: String) throws(TLSError) {
        guard let bio = BIO_new_file(path, "r") else {
            throw OpenSSLErrors.config("cannot load certificate \"\(path)\": BIO_new_file() failed")
        }
        defer { BIO_free(bio) }
        guard let leaf = PEM_read_bio_X509_AUX(bio, nil, nil, nil) else {
            throw OpenSSLErrors.config("cannot load certificate \"\(path)\": PEM_read_bio_X509_AUX() failed")
        }
        defer { X509_free(leaf) }
        if SSL_CTX_use_certificate(ctx, leaf) == 0 {
            throw OpenSSLErrors.config("SSL_CTX_use_certificate(\"\(path)\") failed")
        }
        for _ in 0..<64 {
            guard let extra = PEM_read_bio_X509(bio, nil, nil, nil) else {
                // The end of the file shows as "no start line"; anything else is a broken PEM.
                let code = ERR_peek_last_error()
                if code != 0 && ERR_GET_REASON(code) != PEM_R_NO_START_LINE {
                    throw OpenSSLErrors.config("cannot load certificate \"\(path)\": PEM_read_bio_X509() failed")
                }
                ERR_clear_error()
                return
            }
            defer { X509_free(extra) }
            if cossl_ctx_add1_chain_cert(ctx, extra) == 0 {
                throw OpenSSLErrors.config("SSL_CTX_add1_chain_cert(\"\(path)\") failed")
            }
        }
    }

    /// `ssl_certificate_key`, trying each password of `ssl_password_file` in
    /// turn as nginx does; without passwords an encrypted key fails instead of
    /// prompting on a terminal.
    static func usePrivateKey(_ ctx: OpaquePointer, path: String, passwords: [String]) throws(TLSError) {
        let key = try loadPrivateKey(path: path, passwords: passwords)
        defer { EVP_PKEY_free(key) }
        if SSL_CTX_use_PrivateKey(ctx, key) == 0 {
            throw OpenSSLErrors.config("SSL_CTX_use_PrivateKey(\"\(path)\") failed")
        }
    }

    static func loadPrivateKey(path: String, passwords: [String]) throws(TLSError) -> OpaquePointer {
        guard let bio = BIO_new_file(path, "r") else {
            throw OpenSSLErrors.config("cannot load certificate key \"\(path)\": BIO_new_file() failed")
        }
        defer { BIO_free(bio) }
        let attempts: [String?] = passwords.isEmpty ? [nil] : passwords
        for (index, password) in attempts.enumerated() {
            if index > 0 { _ = BIO_ctrl(bio, BIO_CTRL_RESET, 0, nil) }
            let key: OpaquePointer?
            if let password {
                key = password.withCString { PEM_read_bio_PrivateKey(bio, nil, passwordCallback, UnsafeMutableRawPointer(mutating: $0)) }
            } else {
                key = PEM_read_bio_PrivateKey(bio, nil, passwordCallback, nil)
            }
            if let key { ERR_clear_error(); return key }
            if index + 1 < attempts.count { ERR_clear_error() }
        }
        throw OpenSSLErrors.config("cannot load certificate key \"\(path)\": PEM_read_bio_PrivateKey() failed")
    }

    /// `ssl_dhparam`: DH (or X9.42) parameters for DHE ciphers.
    static func useDHParams(_ ctx: OpaquePointer, path: String) throws(TLSError) {
        guard let bio = BIO_new_file(path, "r") else {
            throw OpenSSLErrors.config("BIO_new_file(\"\(path)\") failed")
        }
        defer { BIO_free(bio) }
        guard let params = PEM_read_bio_Parameters(bio, nil) else {
            throw OpenSSLErrors.config("PEM_read_bio_DHparams(\"\(path)\") failed")
        }
        if SSL_CTX_set0_tmp_dh_pkey(ctx, params) == 0 {
            EVP_PKEY_free(params)
            throw OpenSSLErrors.config("SSL_CTX_set0_tmp_dh_pkey(\"\(path)\") failed")
        }
    }

    static func loadVerifyLocations(_ ctx: OpaquePointer, path: String) throws(TLSError) {
        if SSL_CTX_load_verify_locations(ctx, path, nil) == 0 {
            throw OpenSSLErrors.config("SSL_CTX_load_verify_locations(\"\(path)\") failed")
        }
    }
}

/// PEM password callback: copies the NUL-terminated password passed as `u`,
/// or refuses (0) when there is none, so OpenSSL never prompts.
private let passwordCallback: cossl_password_cb = { buffer, size, _, userdata in
    guard let buffer, let userdata else { return 0 }
    let password = userdata.assumingMemoryBound(to: CChar.self)
    let length = min(Int(strlen(password)), Int(size))
    memcpy(buffer, password, length)
    return Int32(length)
}
