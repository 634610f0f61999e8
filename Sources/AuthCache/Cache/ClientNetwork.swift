import Glibc

/// How much of a client's address identifies its network in the cache and
/// the throttle: IPv4 exact and IPv6 /64 by default (one customer usually
/// holds a whole /64). `auth_cache_client_prefix V4BITS V6BITS` widens it.
public struct ClientPrefix: Sendable, Hashable {
    public var v4Bits: Int
    public var v6Bits: Int
    public init(v4Bits: Int = 32, v6Bits: Int = 64) {
        self.v4Bits = min(max(v4Bits, 0), 32)
        self.v6Bits = min(max(v6Bits, 0), 128)
    }
}

/// The client's network as text, e.g. `192.0.2.7/32` or `2001:db8:1:2::/64`;
/// nil when `address` is no IP literal (a unix-socket client). An
/// IPv4-mapped IPv6 address counts as IPv4, so dual-stack listeners agree.
public func clientNetwork(_ address: String, prefix: ClientPrefix) -> String? {
    var v6 = in6_addr()
    var v4 = in_addr()
    if inet_pton(AF_INET, address, &v4) == 1 {
        let bytes = withUnsafeBytes(of: v4) { Array($0) }
        return format(family: AF_INET, masked(bytes, bits: prefix.v4Bits), bits: prefix.v4Bits)
    }
    guard inet_pton(AF_INET6, address, &v6) == 1 else { return nil }
    let bytes = withUnsafeBytes(of: v6) { Array($0) }
    if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
        let v4bytes = Array(bytes[12..<16])
        return format(family: AF_INET, masked(v4bytes, bits: prefix.v4Bits), bits: prefix.v4Bits)
    }
    return format(family: AF_INET6, masked(bytes, bits: prefix.v6Bits), bits: prefix.v6Bits)
}

private func masked(_ bytes: [UInt8], bits: Int) -> [UInt8] {
    bytes.enumerated().map { i, b in
        let keep = min(max(bits - 8 * i, 0), 8)
        return keep == 8 ? b : b & UInt8(truncatingIfNeeded: 0xff << (8 - keep))
    }
}

private func format(family: Int32, _ bytes: [UInt8], bits: Int) -> String? {
    var out = [CChar](repeating: 0, count: 64)
    let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &out, 64) != nil }
    guard ok else { return nil }
    return out.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } + "/\(bits)"
}
