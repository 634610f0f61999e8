import Protocols

/// Runs one accepted client on a session-pool thread with the driver for
/// its server block's protocol.
func runSession(client: Socket, settings: ProxySettings, services: SessionServices, worker: SessionWorker,
                connection: UInt64, serverAddress: String, peer: ClientPeer? = nil) {
    // From the greeting on: a multi-line reply (SMTP EHLO) or a reply written in
    // parts must not wait for the client's delayed ACK (nginx stalls 40 ms there).
    try? client.setNoDelay()

    var core = ProxySessionCore(client: client, settings: settings, services: services, worker: worker,
                                connection: connection, serverAddress: serverAddress, peer: peer)
    core.logConnected()
    // `listen ... ssl`: the handshake comes first; SNI may pick another server
    // block sharing the address, whose settings the driver then uses.
    guard core.acceptImplicitTLS() else { return }

    switch core.settings.mailProtocol {
    case .imap:
        var session = IMAPProxySession(core: core)
        session.run()
    case .pop3:
        var session = POP3ProxySession(core: core)
        session.run()
    case .smtp:
        var session = SMTPProxySession(core: core)
        session.run()
    }
}
