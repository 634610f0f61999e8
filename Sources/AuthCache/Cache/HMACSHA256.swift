import COpenSSL

/// HMAC-SHA256 (RFC 2104) through OpenSSL, which the binary links for TLS
/// anyway: its SHA-256 uses the CPU's SHA extensions, and a cache hit
/// computes several of these (the lookup id, the verifier, the keystream).
func hmacSHA256(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    let done = key.withUnsafeBufferPointer { k in
        message.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in
                // An empty buffer may have no address; OpenSSL wants a pointer regardless.
                HMAC(EVP_sha256(), k.baseAddress ?? UnsafePointer(bitPattern: 1), Int32(k.count),
                     m.baseAddress ?? UnsafePointer(bitPattern: 1), m.count, o.baseAddress, &length)
            }
        }
    }
    // HMAC only fails without memory; a zero digest would then verify nothing.
    precondition(done != nil && length == 32, "HMAC-SHA256 failed")
    return out
}

/// Compares without an early exit, so timing does not tell how many bytes matched.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in 0..<a.count { diff |= a[i] ^ b[i] }
    return diff == 0
}
