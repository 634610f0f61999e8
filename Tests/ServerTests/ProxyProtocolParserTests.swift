import Testing
@testable import Server

/// One parser fixture: input bytes and the expected outcome.
struct ProxyFixture: Sendable, CustomTestStringConvertible {
    var name: String
    var input: [UInt8]
    var expected: Expected
    enum Expected: Sendable, Equatable {
        case header(source: String?, destination: String?, consumed: Int)
        case needMoreBytes
        case invalid
    }
    var testDescription: String { name }
}

private func v2(_ command: UInt8, _ family: UInt8, _ body: [UInt8], length: Int? = nil) -> [UInt8] {
    let n = length ?? body.count
    return ProxyProtocolParser.v2Signature + [command, family, UInt8(n >> 8), UInt8(n & 0xFF)] + body
}

private let v4Body: [UInt8] = [192, 0, 2, 1, 198, 51, 100, 7, 0xC3, 0x50, 0x00, 0x8F]  // 50000 -> 143
private let v6Body: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [5]
    + [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [6] + [0x04, 0xD2, 0x00, 0x8F]
private let tlv: [UInt8] = [0x04, 0x00, 0x03, 0x61, 0x62, 0x63]  // PP2_TYPE_NOOP "abc"

let proxyFixtures: [ProxyFixture] = [
    .init(name: "v1 TCP4", input: Array("PROXY TCP4 192.0.2.1 198.51.100.7 50000 143\r\nA1 NOOP\r\n".utf8),
          expected: .header(source: "192.0.2.1:50000", destination: "198.51.100.7:143", consumed: 45)),
    .init(name: "v1 TCP6", input: Array("PROXY TCP6 2001:db8::5 2001:db8::6 1234 143\r\n".utf8),
          expected: .header(source: "[2001:db8::5]:1234", destination: "[2001:db8::6]:143", consumed: 45)),
    .init(name: "v1 UNKNOWN", input: Array("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n".utf8),
          expected: .header(source: nil, destination: nil, consumed: 35)),
    .init(name: "v1 partial", input: Array("PROXY TCP4 192.0.2.1 198.51".utf8), expected: .needMoreBytes),
    .init(name: "v1 prefix only", input: Array("PRO".utf8), expected: .needMoreBytes),
    .init(name: "empty", input: [], expected: .needMoreBytes),
    .init(name: "no signature", input: Array("A1 LOGIN bob secret\r\n".utf8), expected: .invalid),
    .init(name: "v1 TCP4 with IPv6 address", input: Array("PROXY TCP4 ::1 ::1 1 2\r\n".utf8), expected: .invalid),
    .init(name: "v1 TCP6 with IPv4 address", input: Array("PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n".utf8), expected: .invalid),
    .init(name: "v1 port out of range", input: Array("PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n".utf8), expected: .invalid),
    .init(name: "v1 port leading zero", input: Array("PROXY TCP4 1.2.3.4 5.6.7.8 0143 1\r\n".utf8), expected: .invalid),
    .init(name: "v1 signed port", input: Array("PROXY TCP4 1.2.3.4 5.6.7.8 +1 1\r\n".utf8), expected: .invalid),
    .init(name: "v1 missing field", input: Array("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n".utf8), expected: .invalid),
    .init(name: "v1 double space", input: Array("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n".utf8), expected: .invalid),
    .init(name: "v1 bare LF", input: Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n".utf8), expected: .invalid),
    .init(name: "v1 host name", input: Array("PROXY TCP4 evil.example 5.6.7.8 1 2\r\n".utf8), expected: .invalid),
    .init(name: "v1 unknown protocol", input: Array("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8), expected: .invalid),
    .init(name: "v1 too long", input: Array(("PROXY UNKNOWN " + String(repeating: "x", count: 100)).utf8),
          expected: .invalid),
    .init(name: "v2 IPv4", input: v2(0x21, 0x11, v4Body) + Array("A1".utf8),
          expected: .header(source: "192.0.2.1:50000", destination: "198.51.100.7:143", consumed: 28)),
    .init(name: "v2 IPv6", input: v2(0x21, 0x21, v6Body),
          expected: .header(source: "[2001:db8::5]:1234", destination: "[2001:db8::6]:143", consumed: 52)),
    .init(name: "v2 IPv4 with TLV skipped", input: v2(0x21, 0x11, v4Body + tlv),
          expected: .header(source: "192.0.2.1:50000", destination: "198.51.100.7:143", consumed: 34)),
    .init(name: "v2 LOCAL", input: v2(0x20, 0x00, []), expected: .header(source: nil, destination: nil, consumed: 16)),
    .init(name: "v2 unix family", input: v2(0x21, 0x31, [UInt8](repeating: 0, count: 216)),
          expected: .header(source: nil, destination: nil, consumed: 232)),
    .init(name: "v2 partial signature", input: Array(ProxyProtocolParser.v2Signature.prefix(7)), expected: .needMoreBytes),
    .init(name: "v2 partial body", input: Array(v2(0x21, 0x11, v4Body).prefix(20)), expected: .needMoreBytes),
    .init(name: "v2 version 1", input: v2(0x11, 0x11, v4Body), expected: .invalid),
    .init(name: "v2 unknown command", input: v2(0x22, 0x11, v4Body), expected: .invalid),
    .init(name: "v2 short address block", input: v2(0x21, 0x11, Array(v4Body.prefix(8))), expected: .invalid),
    .init(name: "v2 short IPv6 block", input: v2(0x21, 0x21, v4Body), expected: .invalid),
    .init(name: "v2 unknown family", input: v2(0x21, 0x41, v4Body), expected: .invalid),
    .init(name: "v2 length over limit", input: v2(0x21, 0x11, v4Body, length: 0xFFFF), expected: .invalid),
]

private func outcome(_ result: ProxyProtocolParseResult) -> ProxyFixture.Expected {
    switch result {
    case .header(let h, let consumed):
        return .header(source: h.source?.description, destination: h.destination?.description, consumed: consumed)
    case .needMoreBytes: return .needMoreBytes
    case .invalid: return .invalid
    }
}

@Suite struct ProxyProtocolParserTests {
    /// Each fixture parses to its expected outcome in one piece.
    @Test(arguments: proxyFixtures)
    func wholeInput(fixture: ProxyFixture) {
        #expect(outcome(ProxyProtocolParser.parse(fixture.input)) == fixture.expected)
    }

    /// Fed one byte at a time, every prefix asks for more until the whole
    /// outcome appears, and it agrees with the one-piece parse.
    @Test(arguments: proxyFixtures)
    func byteByByte(fixture: ProxyFixture) {
        var final: ProxyFixture.Expected = .needMoreBytes
        for n in 0...fixture.input.count {
            final = outcome(ProxyProtocolParser.parse(Array(fixture.input.prefix(n))))
            if final != .needMoreBytes { break }
        }
        #expect(final == fixture.expected)
    }

    /// The writer's headers parse back to the same addresses (v1 and v2).
    @Test func writerRoundTrip() throws {
        let pairs: [(SocketAddress, SocketAddress)] = [
            (try #require(SocketAddress.parse("192.0.2.1:50000")), try #require(SocketAddress.parse("127.0.0.1:143"))),
            (try #require(SocketAddress.parse("[2001:db8::5]:1")), try #require(SocketAddress.parse("[::1]:2"))),
        ]
        for (s, d) in pairs {
            for bytes in [ProxyProtocolWriter.v1(source: s, destination: d), ProxyProtocolWriter.v2(source: s, destination: d)] {
                guard case .header(let h, let consumed) = ProxyProtocolParser.parse(bytes) else {
                    Issue.record("no header for \(s)"); continue
                }
                #expect(h == ProxyProtocolHeader(source: s, destination: d))
                #expect(consumed == bytes.count)
            }
        }
        #expect(ProxyProtocolWriter.v1(source: .unix(path: "/x"), destination: nil) == Array("PROXY UNKNOWN\r\n".utf8))
        #expect(String(decoding: ProxyProtocolWriter.v1(source: pairs[0].0, destination: pairs[0].1), as: UTF8.self)
            == "PROXY TCP4 192.0.2.1 127.0.0.1 50000 143\r\n")
    }
}

@Suite struct ProxyProtocolTrustTests {
    /// set_real_ip_from matches by prefix within one family; unix: matches unix peers.
    @Test func cidrMatching() throws {
        let trust = RealIPTrust(networks: [.ip(bytes: [10, 1, 0, 0], prefixLength: 16),
                                           .ip(bytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 12), prefixLength: 32)])
        #expect(trust.trusts(try #require(SocketAddress.parse("10.1.200.3:1"))))
        #expect(!trust.trusts(try #require(SocketAddress.parse("10.2.0.1:1"))))
        #expect(trust.trusts(try #require(SocketAddress.parse("[2001:db8:ffff::1]:1"))))
        #expect(!trust.trusts(try #require(SocketAddress.parse("[2001:db9::1]:1"))))
        #expect(!trust.trusts(.unix(path: "/run/x")))
        #expect(RealIPTrust(networks: [.unixDomain]).trusts(.unix(path: "/run/x")))
        #expect(RealIPTrust(networks: [.ip(bytes: [0, 0, 0, 0], prefixLength: 0)]).trusts(try #require(SocketAddress.parse("8.8.8.8:1"))))
        #expect(!RealIPTrust(networks: []).trusts(try #require(SocketAddress.parse("8.8.8.8:1"))))
    }
}
