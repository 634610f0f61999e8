import Glibc
import Testing
@testable import Server

@Suite struct ProxyProtocolReaderTests {
    /// Only the header is consumed; bytes the client sent behind it stay for the session.
    @Test func consumesExactlyTheHeader() throws {
        let (a, b) = try Socket.pair()
        try b.writeAll(Array("PROXY TCP4 192.0.2.1 198.51.100.7 50000 143\r\nA1 NOOP\r\n".utf8), deadline: .after(millis: 1000))
        let header = try ProxyProtocolReader.read(from: a, deadline: .after(millis: 1000)).get()
        #expect(header.source?.description == "192.0.2.1:50000")
        #expect(try a.readSome(max: 100, deadline: .after(millis: 1000)) == .bytes(Array("A1 NOOP\r\n".utf8)))
    }

    /// A v2 header arriving one byte at a time is assembled, then the rest is left alone.
    @Test func slowV2Header() throws {
        let (a, b) = try Socket.pair()
        let bytes = ProxyProtocolWriter.v2(source: .ipv4(bytes: [10, 0, 0, 9], port: 4000),
                                           destination: .ipv4(bytes: [10, 0, 0, 1], port: 143)) + Array("X".utf8)
        let writer = b
        let thread = startThread(name: "pp-writer") {
            for byte in bytes {
                try? writer.writeAll([byte], deadline: .after(millis: 1000))
                sleepMillis(1)
            }
        }
        defer { thread.join() }
        let header = try ProxyProtocolReader.read(from: a, deadline: .after(millis: 3000)).get()
        #expect(header.source == .ipv4(bytes: [10, 0, 0, 9], port: 4000))
        #expect(try a.readSome(max: 10, deadline: .after(millis: 1000)) == .bytes(Array("X".utf8)))
    }

    /// A client that speaks IMAP instead of PROXY is refused at once.
    @Test func malformedHeader() throws {
        let (a, b) = try Socket.pair()
        try b.writeAll(Array("A1 LOGIN bob secret\r\n".utf8), deadline: .after(millis: 1000))
        guard case .failure(.invalid) = ProxyProtocolReader.read(from: a, deadline: .after(millis: 1000)) else {
            Issue.record("expected invalid"); return
        }
    }

    /// A silent client costs at most the timeout; a closed one ends the read.
    @Test func timeoutAndClose() throws {
        let (a, b) = try Socket.pair()
        try b.writeAll(Array("PROXY TCP4 1.2".utf8), deadline: .after(millis: 1000))
        let start = monotonicNanoseconds()
        #expect(ProxyProtocolReader.read(from: a, deadline: .after(millis: 200)) == .failure(.timedOut))
        #expect((monotonicNanoseconds() - start) / 1_000_000 < 1000)
        b.close()
        #expect(ProxyProtocolReader.read(from: a, deadline: .after(millis: 200)) == .failure(.closed))
    }

    /// realip: a trusted peer's header replaces the address; an untrusted one's does not,
    /// though the header is still reported (Proxy-Protocol-* headers).
    @Test func realIPDecision() throws {
        let (a, _) = try Socket.pair()
        let header = ProxyProtocolHeader(source: .ipv4(bytes: [192, 0, 2, 1], port: 5), destination: .ipv4(bytes: [10, 0, 0, 1], port: 143))
        let trusted = ClientPeer.afterProxyHeader(header, socket: a, trust: RealIPTrust(networks: [.unixDomain]))
        #expect(trusted.address == header.source)
        #expect(trusted.authProxyProtocol?.sourceAddress == "192.0.2.1")
        #expect(trusted.authProxyProtocol?.destinationPort == 143)
        let untrusted = ClientPeer.afterProxyHeader(header, socket: a, trust: RealIPTrust(networks: []))
        #expect(untrusted.address == a.peerAddress)
        #expect(untrusted.authProxyProtocol != nil)
        let unknown = ClientPeer.afterProxyHeader(ProxyProtocolHeader(source: nil, destination: nil), socket: a,
                                                  trust: RealIPTrust(networks: [.unixDomain]))
        #expect(unknown.authProxyProtocol == nil)
    }
}
