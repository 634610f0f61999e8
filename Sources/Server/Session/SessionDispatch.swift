import Protocols

/// Runs one accepted client on a session-pool thread with the driver for
/// its server block's protocol.
func runSession(client: Socket, settings: ProxySettings, services: SessionServices, worker: SessionWorker,
                connection: UInt64, serverAddress: String, peer: ClientPeer? = nil) {
    switch settings.mailProtocol {
    case .imap:
        var session = IMAPProxySession(client: client, settings: settings, services: services, worker: worker,
                                       connection: connection, serverAddress: serverAddress, peer: peer)
        session.run()
    case .pop3, .smtp:
        // The planner opens no listener for these yet; answer like a busy server if one slips through.
        _ = try? client.writeAll(settings.mailProtocol.internalServerErrorReply, deadline: .after(millis: 1000))
        client.close()
        services.sessionEnded()
    }
}
