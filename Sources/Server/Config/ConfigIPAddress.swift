import Glibc

/// An IPv4 or IPv6 address in network byte order, as the config names it.
public enum ConfigIPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes.
    case v4([UInt8])
    /// 16 bytes.
    case v6([UInt8])

    public static let anyV4 = ConfigIPAddress.v4([0, 0, 0, 0])

    /// Parses a numeric address (no brackets, no port); nil for anything else.
    public init?(parsing text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(withUnsafeBytes(of: v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: v6) { Array($0) })
            return
        }
        return nil
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let b), .v6(let b): return b
        }
    }

    public var isWildcard: Bool { bytes.allSatisfy { $0 == 0 } }

    /// The canonical text, as inet_ntop(3) prints it.
    public var description: String {
        var buf = [CChar](repeating: 0, count: 64)
        switch self {
        case .v4(let b):
            var a = in_addr()
            withUnsafeMutableBytes(of: &a) { $0.copyBytes(from: b.prefix(4)) }
            _ = inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
        case .v6(let b):
            var a = in6_addr()
            withUnsafeMutableBytes(of: &a) { $0.copyBytes(from: b.prefix(16)) }
            _ = inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
        }
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// An address with a prefix length, from `set_real_ip_from` (or the
/// `unix:` form, which trusts every UNIX-domain client).
public enum ConfigCIDR: Sendable, Hashable, CustomStringConvertible {
    case network(ConfigIPAddress, prefixLength: Int)
    case unixDomain

    public var description: String {
        switch self {
        case .network(let a, let p): return "\(a)/\(p)"
        case .unixDomain: return "unix:"
        }
    }

    /// Parses `ADDR` or `ADDR/LEN`. Returns whether host bits were set (nginx
    /// warns "low address bits ... are meaningless" and clears them).
    static func parse(_ text: String) -> (cidr: ConfigCIDR, hadHostBits: Bool)? {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = ConfigIPAddress(parsing: String(parts[0])) else { return nil }
        let maxBits = address.bytes.count * 8
        var length = maxBits
        if parts.count == 2 {
            guard let n = Int(parts[1]), n >= 0, n <= maxBits, !parts[1].hasPrefix("+") else { return nil }
            length = n
        }
        var bytes = address.bytes
        var changed = false
        for i in 0..<bytes.count {
            let keep = max(0, min(8, length - i * 8))
            let mask: UInt8 = keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
            if bytes[i] & ~mask != 0 { changed = true }
            bytes[i] &= mask
        }
        let masked: ConfigIPAddress = bytes.count == 4 ? .v4(bytes) : .v6(bytes)
        return (.network(masked, prefixLength: length), changed)
    }
}
