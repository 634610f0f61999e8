import Testing
@testable import Server

@Suite struct TLSHalfCloseTests {
    /// After one side sends close_notify (shutdownWrite) it still reads what the peer sends, and the peer reads end of stream.
    @Test(arguments: [["TLSv1.3"], ["TLSv1.2"]])
    func halfClose(protocols: [String]) throws {
        let (server, client) = try tlsConnected(server: try tlsContextSet(tlsServerSettings()), client: try tlsClient { $0.protocols = protocols })
        defer { server.close(); client.close() }
        server.shutdownWrite()
        #expect(try client.readSome(max: 100, deadline: .after(millis: 2000)) == .endOfStream)
        try client.writeAll(Array("after\r\n".utf8), deadline: .after(millis: 2000))
        #expect(try server.readSome(max: 100, deadline: .after(millis: 2000)) == .bytes(Array("after\r\n".utf8)))
        client.shutdownWrite()
        #expect(try server.readSome(max: 100, deadline: .after(millis: 2000)) == .endOfStream)
    }
}
