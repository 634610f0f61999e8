import Protocols

/// Runs one accepted client on a session-pool thread with the driver for
/// its server block's protocol.
func runSession(client: Socket, settings: ProxySettings, services: SessionServices, worker: SessionWorker,
                connection: UInt64, serverAddress: String, peer: ClientPeer? = nil) {
    // From the greeting on: a multi-line reply (SMTP EHLO) or a reply written in
    // parts must not wait for the client's delayed ACK (nginx stalls 40 ms there).
    try? client.setNoDelay()

    switch settings.mailProtocol {
    case .imap:
        var session = IMAPProxySession(client: client, settings: settings, services: services, worker: worker,
                                       connection: connection, serverAddress: serverAddress, peer: peer)
        session.run()
    case .pop3:
        var session = POP3ProxySession(client: client, settings: settings, services: services, worker: worker,
                                       connection: connection, serverAddress: serverAddress, peer: peer)
        session.run()
    case .smtp:
        var session = SMTPProxySession(client: client, settings: settings, services: services, worker: worker,
                                       connection: connection, serverAddress: serverAddress, peer: peer)
        session.run()
    }
}
