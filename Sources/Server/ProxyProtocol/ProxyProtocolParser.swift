/// The addresses a PROXY protocol header carries. Both nil for `PROXY UNKNOWN`,
/// a v2 LOCAL command, or an address family we do not use (unix, unspec).
public struct ProxyProtocolHeader: Sendable, Equatable {
    public var source: SocketAddress?
    public var destination: SocketAddress?

    public init(source: SocketAddress?, destination: SocketAddress?) {
        self.source = source
        self.destination = destination
    }
}

/// What the bytes read so far make of a PROXY protocol header.
public enum ProxyProtocolParseResult: Sendable, Equatable {
    case header(ProxyProtocolHeader, consumed: Int)
    case needMoreBytes
    case invalid(String)
}

/// Parses the header HAProxy's PROXY protocol puts before the client's
/// bytes (haproxy doc/proxy-protocol.txt, versions 1 and 2). Pure: bytes in,
/// outcome out. Strict, as nginx is: anything malformed is `.invalid` and the
/// connection is closed; lengths in the header are checked against limits,
/// never trusted.
public enum ProxyProtocolParser {
    /// v1 §2.1: "a receiver may reject an incomplete line which does not
    /// contain the CRLF sequence in the first 107 characters".
    public static let v1MaxLength = 107
    /// The v2 signature (§2.2): \r\n\r\n\0\r\nQUIT\n.
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// nginx reads at most 4096 bytes of header; TLVs beyond that are refused.
    public static let maxHeaderLength = 4096

    public static func parse(_ bytes: [UInt8]) -> ProxyProtocolParseResult {
        let v1Prefix = Array("PROXY ".utf8)
        let sigCount = min(bytes.count, v2Signature.count)
        if sigCount > 0 && Array(bytes.prefix(sigCount)) == Array(v2Signature.prefix(sigCount)) {
            return sigCount < v2Signature.count ? .needMoreBytes : parseV2(bytes)
        }
        let prefixCount = min(bytes.count, v1Prefix.count)
        if prefixCount > 0 && Array(bytes.prefix(prefixCount)) == Array(v1Prefix.prefix(prefixCount)) {
            return prefixCount < v1Prefix.count ? .needMoreBytes : parseV1(bytes)
        }
        return bytes.isEmpty ? .needMoreBytes : .invalid("broken header: no PROXY protocol signature")
    }

    // MARK: Version 1

    /// v1 §2.1: "PROXY" SP ( "TCP4" | "TCP6" ) SP srcaddr SP dstaddr SP srcport SP dstport CRLF
    ///          | "PROXY" SP "UNKNOWN" [anything] CRLF
    static func parseV1(_ bytes: [UInt8]) -> ProxyProtocolParseResult {
        let window = bytes.prefix(v1MaxLength)
        guard let lf = window.firstIndex(of: 0x0A) else {
            return bytes.count >= v1MaxLength ? .invalid("broken header: line too long") : .needMoreBytes
        }
        guard lf > 0, bytes[lf - 1] == 0x0D else { return .invalid("broken header: LF without CR") }
        let line = Array(bytes[6..<(lf - 1)])
        let consumed = lf + 1
        guard line.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return .invalid("broken header: control characters") }
        let fields = line.split(separator: 0x20, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if fields.first == "UNKNOWN" {
            return .header(ProxyProtocolHeader(source: nil, destination: nil), consumed: consumed)
        }
        guard fields.count == 5, fields[0] == "TCP4" || fields[0] == "TCP6" else {
            return .invalid("broken header: expected TCP4, TCP6 or UNKNOWN and four fields")
        }
        let v4 = fields[0] == "TCP4"
        guard let sourcePort = port(fields[3]), let destinationPort = port(fields[4]),
              let source = address(fields[1], v4: v4, port: sourcePort),
              let destination = address(fields[2], v4: v4, port: destinationPort)
        else { return .invalid("broken header: bad address or port") }
        return .header(ProxyProtocolHeader(source: source, destination: destination), consumed: consumed)
    }

    /// Decimal 0-65535 without sign or leading zeros (v1 §2.1).
    private static func port(_ text: String) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              text == "0" || !text.hasPrefix("0") else { return nil }
        return UInt16(text)
    }

    private static func address(_ text: String, v4: Bool, port: UInt16) -> SocketAddress? {
        guard !text.isEmpty, !text.hasPrefix("[") else { return nil }
        switch SocketAddress.ip(text, port: port) {
        case .ipv4(let b, let p)? where v4: return .ipv4(bytes: b, port: p)
        case .ipv6(let b, let p, _)? where !v4: return .ipv6(bytes: b, port: p)
        default: return nil
        }
    }

    // MARK: Version 2

    /// v2 §2.2: 12-byte signature, version/command byte, family/protocol
    /// byte, 16-bit length of what follows (addresses, then TLVs we skip).
    static func parseV2(_ bytes: [UInt8]) -> ProxyProtocolParseResult {
        guard bytes.count >= 16 else { return .needMoreBytes }
        let versionCommand = bytes[12]
        guard versionCommand >> 4 == 2 else { return .invalid("unsupported PROXY protocol v2 version") }
        let length = Int(bytes[14]) << 8 | Int(bytes[15])
        guard 16 + length <= maxHeaderLength else { return .invalid("PROXY protocol v2 header too long") }
        guard bytes.count >= 16 + length else { return .needMoreBytes }
        let consumed = 16 + length
        let body = Array(bytes[16..<consumed])
        switch versionCommand & 0x0F {
        case 0x0:
            // LOCAL: the proxy's own connection (health check); keep the real peer.
            return .header(ProxyProtocolHeader(source: nil, destination: nil), consumed: consumed)
        case 0x1:
            break
        default:
            return .invalid("unknown PROXY protocol v2 command")
        }
        let family = bytes[13] >> 4
        let transport = bytes[13] & 0x0F
        guard transport <= 2 else { return .invalid("unknown PROXY protocol v2 transport") }
        switch family {
        case 0x1:
            guard body.count >= 12 else { return .invalid("PROXY protocol v2 address block too short") }
            let sp = UInt16(body[8]) << 8 | UInt16(body[9])
            let dp = UInt16(body[10]) << 8 | UInt16(body[11])
            return .header(ProxyProtocolHeader(source: .ipv4(bytes: Array(body[0..<4]), port: sp),
                                               destination: .ipv4(bytes: Array(body[4..<8]), port: dp)),
                           consumed: consumed)
        case 0x2:
            guard body.count >= 36 else { return .invalid("PROXY protocol v2 address block too short") }
            let sp = UInt16(body[32]) << 8 | UInt16(body[33])
            let dp = UInt16(body[34]) << 8 | UInt16(body[35])
            return .header(ProxyProtocolHeader(source: .ipv6(bytes: Array(body[0..<16]), port: sp),
                                               destination: .ipv6(bytes: Array(body[16..<32]), port: dp)),
                           consumed: consumed)
        case 0x0, 0x3:
            // UNSPEC or AF_UNIX: nothing we can use as a client address.
            return .header(ProxyProtocolHeader(source: nil, destination: nil), consumed: consumed)
        default:
            return .invalid("unknown PROXY protocol v2 address family")
        }
    }
}
