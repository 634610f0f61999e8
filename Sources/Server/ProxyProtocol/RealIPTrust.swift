/// nginx's `set_real_ip_from` for mail: the PROXY header's source address
/// replaces the client address only when the connection's own peer is in
/// one of these networks (or `unix:` for unix-socket peers).
public struct RealIPTrust: Sendable, Equatable {
    public enum Network: Sendable, Equatable {
        /// Address bytes (4 or 16, network order) and prefix length.
        case ip(bytes: [UInt8], prefixLength: Int)
        case unixDomain
    }

    public var networks: [Network]

    public init(networks: [Network]) { self.networks = networks }

    public var isEmpty: Bool { networks.isEmpty }

    public func trusts(_ peer: SocketAddress) -> Bool {
        networks.contains { network in
            switch (network, peer) {
            case (.unixDomain, .unix): return true
            case (.ip(let net, let length), .ipv4(let b, _)): return Self.matches(b, net, length)
            case (.ip(let net, let length), .ipv6(let b, _, _)): return Self.matches(b, net, length)
            default: return false
            }
        }
    }

    /// Prefix match; families must agree (nginx's ngx_cidr_match does not map
    /// IPv4-mapped IPv6 peers onto IPv4 networks either).
    static func matches(_ address: [UInt8], _ network: [UInt8], _ prefixLength: Int) -> Bool {
        guard address.count == network.count, prefixLength >= 0, prefixLength <= address.count * 8 else { return false }
        for i in 0..<address.count {
            let bits = max(0, min(8, prefixLength - i * 8))
            if bits == 0 { break }
            let mask: UInt8 = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if address[i] & mask != network[i] & mask { return false }
        }
        return true
    }
}
