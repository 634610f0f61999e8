import COpenSSL
import Glibc

/// The keys of `ssl_session_ticket_key` files: the first encrypts new tickets,
/// all of them decrypt, so keys can be rotated without breaking resumption.
///
/// File layout as nginx reads it: 16 bytes key name, then the HMAC-SHA256 key,
/// then the AES key. 80-byte files: 32 + 32 (AES-256-CBC); 48-byte files:
/// 16 + 16 (AES-128-CBC).
final class TLSTicketKeys: Sendable {
    struct Key: Sendable {
        let name: [UInt8]
        let hmacKey: [UInt8]
        let aesKey: [UInt8]
        var aes256: Bool { aesKey.count == 32 }
    }

    let keys: [Key]

    init(files: [String]) throws(TLSError) {
        var keys: [Key] = []
        for path in files {
            guard let bytes = TLSContextLoading.readFile(path) else {
                throw OpenSSLErrors.config("cannot open \"\(path)\"")
            }
            switch bytes.count {
            case 80:
                keys.append(Key(name: Array(bytes[0..<16]), hmacKey: Array(bytes[16..<48]), aesKey: Array(bytes[48..<80])))
            case 48:
                keys.append(Key(name: Array(bytes[0..<16]), hmacKey: Array(bytes[16..<32]), aesKey: Array(bytes[32..<48])))
            default:
                throw .config("\"\(path)\" must be 48 or 80 bytes")
            }
        }
        self.keys = keys
    }

    /// ex_data slot on SSL_CTX holding an unretained pointer to the context's keys.
    static let exDataIndex: Int32 = cossl_ctx_get_ex_new_index()

    /// OpenSSL calls the callback of the context the connection started with
    /// (its session context), also after SNI switched to another server's
    /// context; nginx likewise uses the default server's keys then. So the
    /// keys are those of the listener's default context.
    private static func keys(for ssl: OpaquePointer) -> TLSTicketKeys? {
        if let keys = TLSStream.of(ssl)?.contexts?.defaultContext.ticketKeys { return keys }
        guard let ctx = SSL_get_SSL_CTX(ssl), let raw = SSL_CTX_get_ex_data(ctx, exDataIndex) else { return nil }
        return Unmanaged<TLSTicketKeys>.fromOpaque(raw).takeUnretainedValue()
    }

    /// OpenSSL's ticket callback. enc == 1: fill name and IV, set up cipher and
    /// MAC with the first key. enc == 0: find the key by name (0: unknown,
    /// full handshake), 2 asks OpenSSL to issue a fresh ticket under the
    /// current key because an older key decrypted this one.
    static let callback: cossl_ticket_evp_cb = { ssl, name, iv, cipherCtx, macCtx, enc in
        guard let ssl, let name, let iv, let cipherCtx, let macCtx, let ring = keys(for: ssl) else { return -1 }
        if enc == 1 {
            guard let key = ring.keys.first else { return -1 }
            let cipher = key.aes256 ? EVP_aes_256_cbc() : EVP_aes_128_cbc()
            let ivLength = Int(EVP_CIPHER_get_iv_length(cipher))
            if RAND_bytes(iv, Int32(ivLength)) != 1 { return -1 }
            key.name.withUnsafeBufferPointer { _ = memcpy(name, $0.baseAddress!, 16) }
            let ok = key.aesKey.withUnsafeBufferPointer { EVP_EncryptInit_ex(cipherCtx, cipher, nil, $0.baseAddress, iv) }
            if ok != 1 { return -1 }
            let macOK = key.hmacKey.withUnsafeBufferPointer { cossl_mac_init_hmac_sha256(macCtx, $0.baseAddress, $0.count) }
            return macOK == 1 ? 1 : -1
        }
        let wanted = Array(UnsafeBufferPointer(start: name, count: 16))
        guard let index = ring.keys.firstIndex(where: { $0.name == wanted }) else { return 0 }
        let key = ring.keys[index]
        let cipher = key.aes256 ? EVP_aes_256_cbc() : EVP_aes_128_cbc()
        let macOK = key.hmacKey.withUnsafeBufferPointer { cossl_mac_init_hmac_sha256(macCtx, $0.baseAddress, $0.count) }
        if macOK != 1 { return -1 }
        let ok = key.aesKey.withUnsafeBufferPointer { EVP_DecryptInit_ex(cipherCtx, cipher, nil, $0.baseAddress, iv) }
        if ok != 1 { return -1 }
        return index == 0 ? 1 : 2
    }
}
