/// The PROXY protocol header nginx's `proxy_protocol on` (v1) or `v2` sends
/// to the backend before anything else: the client's (real) address and the
/// address it connected to.
public enum ProxyProtocolWriter {
    /// v1 §2.1. Mixed or unix families cannot be said in v1: "PROXY UNKNOWN".
    public static func v1(source: SocketAddress?, destination: SocketAddress?) -> [UInt8] {
        switch (source, destination) {
        case (.ipv4(_, let sp)?, .ipv4(_, let dp)?):
            return Array("PROXY TCP4 \(source!.hostText) \(destination!.hostText) \(sp) \(dp)\r\n".utf8)
        case (.ipv6(_, let sp, _)?, .ipv6(_, let dp, _)?):
            return Array("PROXY TCP6 \(source!.hostText) \(destination!.hostText) \(sp) \(dp)\r\n".utf8)
        default:
            return Array("PROXY UNKNOWN\r\n".utf8)
        }
    }

    /// v2 §2.2, command PROXY over STREAM; no TLVs. Unusable families are
    /// sent as AF_UNSPEC with no addresses.
    public static func v2(source: SocketAddress?, destination: SocketAddress?) -> [UInt8] {
        var out = ProxyProtocolParser.v2Signature
        out.append(0x21)
        var body: [UInt8] = []
        switch (source, destination) {
        case (.ipv4(let sb, let sp)?, .ipv4(let db, let dp)?):
            out.append(0x11)
            body = sb + db + bigEndian(sp) + bigEndian(dp)
        case (.ipv6(let sb, let sp, _)?, .ipv6(let db, let dp, _)?):
            out.append(0x21)
            body = sb + db + bigEndian(sp) + bigEndian(dp)
        default:
            out.append(0x00)
        }
        out += bigEndian(UInt16(body.count))
        return out + body
    }

    private static func bigEndian(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
}
