/// Before a session starts on a `listen ... proxy_protocol` socket: read the
/// PROXY header within `timeout` and apply `set_real_ip_from`. A missing or
/// malformed header closes the connection without a reply, as nginx does.
/// Returns nil when the connection was closed (and counted as ended).
func acceptPeer(_ socket: Socket, settings: ProxySettings, services: SessionServices, connection: UInt64,
                serverAddress: String) -> ClientPeer? {
    let withLocalAddress = settings.backendProxyProtocol != .off
    guard settings.acceptProxyProtocol else { return .direct(socket, withLocalAddress: withLocalAddress) }
    switch ProxyProtocolReader.read(from: socket, deadline: .after(millis: settings.timeoutMillis)) {
    case .success(let header):
        return .afterProxyHeader(header, socket: socket, trust: settings.realIPTrust, withLocalAddress: withLocalAddress)
    case .failure(let error):
        let context = LogContext(connection: connection, client: socket.peerAddress?.hostText, server: serverAddress,
                                 action: "reading PROXY protocol")
        services.log.log(.info, "\(error)", context: context)
        socket.close()
        services.sessionEnded()
        return nil
    }
}
