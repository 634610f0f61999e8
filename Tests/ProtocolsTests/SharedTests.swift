import Protocols
import Testing

@Suite struct SharedTests {
    /// The salt has nginx's "<random.time@server_name>" form.
    @Test func salt() {
        #expect(MailSalt.make(random: 1896, unixTime: 697170952, serverName: "mx.example.org")
                == bytes("<1896.697170952@mx.example.org>"))
    }

    /// Each protocol has its temporary-failure replies in one place.
    @Test func replies() {
        #expect(MailProtocol.imap.internalServerErrorReply == bytes("* BAD internal server error\r\n"))
        #expect(MailProtocol.pop3.internalServerErrorReply == bytes("-ERR internal server error\r\n"))
        #expect(MailProtocol.smtp.internalServerErrorReply == bytes("451 4.3.2 Internal server error\r\n"))
        for p in MailProtocol.allCases {
            #expect(p.serverBusyReply.suffix(2) == [0x0D, 0x0A])
        }
    }

    /// Client host names follow nginx: only RFC 1034 names, confirmed by a forward lookup.
    @Test func clientHost() {
        #expect(SMTPClientHost.afterReverseLookup(.success(bytes("mail.example.org"))) == .confirm(bytes("mail.example.org")))
        #expect(SMTPClientHost.afterReverseLookup(.success(bytes("evil\r\nRSET"))) == .use(SMTPClientHost.temporarilyUnavailable))
        #expect(SMTPClientHost.afterReverseLookup(.success(bytes("a b"))) == .use(SMTPClientHost.temporarilyUnavailable))
        #expect(SMTPClientHost.afterReverseLookup(.failure(.nxdomain)) == .use(SMTPClientHost.unavailable))
        #expect(SMTPClientHost.afterReverseLookup(.failure(.other)) == .use(SMTPClientHost.temporarilyUnavailable))
        #expect(SMTPClientHost.afterForwardLookup(name: bytes("m.example"), .success(true)) == bytes("m.example"))
        #expect(SMTPClientHost.afterForwardLookup(name: bytes("m.example"), .success(false)) == SMTPClientHost.unavailable)
        #expect(SMTPClientHost.withoutLookup(unixSocket: false) == bytes("[UNAVAILABLE]"))
    }
}
