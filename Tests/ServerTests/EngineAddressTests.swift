import Glibc
import Testing
@testable import Server

@Suite struct EngineAddressTests {
    /// IP literals parse with or without brackets and print as nginx does.
    @Test(arguments: [
        ("127.0.0.1", "127.0.0.1:1143"),
        ("::1", "[::1]:1143"),
        ("[::1]", "[::1]:1143"),
        ("2001:db8::5", "[2001:db8::5]:1143"),
    ])
    func ipLiteral(input: String, printed: String) throws {
        let a = try #require(SocketAddress.ip(input, port: 1143))
        #expect(a.description == printed)
    }

    /// host:port forms, unix paths and bad input.
    @Test func parseForms() {
        #expect(SocketAddress.parse("10.0.0.1:143")?.description == "10.0.0.1:143")
        #expect(SocketAddress.parse("[::1]:993")?.description == "[::1]:993")
        #expect(SocketAddress.parse("10.0.0.1", defaultPort: 110)?.description == "10.0.0.1:110")
        #expect(SocketAddress.parse("::1", defaultPort: 110)?.description == "[::1]:110")
        #expect(SocketAddress.parse("unix:/run/x.sock")?.description == "unix:/run/x.sock")
        #expect(SocketAddress.parse("10.0.0.1") == nil)
        #expect(SocketAddress.parse("10.0.0.1:99999") == nil)
        #expect(SocketAddress.parse("[::1") == nil)
        #expect(SocketAddress.parse("unix:") == nil)
        #expect(SocketAddress.parse("mail.example.com:143") == nil)
    }

    /// hostText is the bare address (Client-IP header form).
    @Test func hostText() {
        #expect(SocketAddress.ip("::1", port: 1)?.hostText == "::1")
        #expect(SocketAddress.ip("1.2.3.4", port: 1)?.hostText == "1.2.3.4")
    }

    /// An address survives the round trip through sockaddr.
    @Test func sockaddrRoundTrip() throws {
        for text in ["1.2.3.4:5", "[fe80::1]:143", "unix:/tmp/a.sock"] {
            let a = try #require(SocketAddress.parse(text))
            let back = try a.withSockAddr { (sa, len) throws(Errno) in SocketAddress(sockaddr: sa, length: len) }
            #expect(back == a)
        }
    }

    /// localhost resolves to a loopback address with the port applied.
    @Test func resolveLocalhost() throws {
        let list = try SocketAddress.resolve(host: "localhost", port: 25)
        #expect(!list.isEmpty)
        #expect(list.allSatisfy { $0.port == 25 })
        #expect(list.contains { $0.hostText == "127.0.0.1" || $0.hostText == "::1" })
        #expect(throws: ResolveError.self) { try SocketAddress.resolve(host: "no-such-host.invalid", port: 1) }
    }
}
