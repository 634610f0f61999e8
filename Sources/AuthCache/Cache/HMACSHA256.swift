import COpenSSL

/// An HMAC-SHA256 (RFC 2104) key with its padded key already hashed, so a
/// message costs two short SHA-256 runs and no allocation. A cache hit
/// computes several MACs under the cache's fixed secret key (the lookup id,
/// the verifier, the keystream); OpenSSL's one-shot `HMAC()` looked the
/// algorithm up by name on every call, which was most of a hit's instructions.
struct HMACSHA256Key {
    private var state = cossl_hmac_sha256_key()

    init(_ key: [UInt8]) {
        key.withUnsafeBufferPointer { cossl_hmac_sha256_key_init(&state, $0.baseAddress, $0.count) }
    }

    func mac(_ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        withUnsafePointer(to: state) { key in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { cossl_hmac_sha256(key, m.baseAddress, m.count, $0.baseAddress) }
            }
        }
        return out
    }
}

/// Compares without an early exit, so timing does not tell how many bytes matched.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in 0..<a.count { diff |= a[i] ^ b[i] }
    return diff == 0
}
