import AuthCache

/// Who the client is, once a PROXY protocol header (if the listener expects
/// one) has been read and `set_real_ip_from` applied. Session drivers take
/// the client address from here rather than from the socket.
public struct ClientPeer: Sendable, Equatable {
    /// The client as logs, Client-IP, XCLIENT ADDR and the resolver see it.
    public var address: SocketAddress?
    /// The TCP peer of the accepted socket (the proxy, with PROXY protocol).
    public var connectionAddress: SocketAddress?
    /// The local address the connection came in on; looked up only when a
    /// PROXY protocol header to the backend needs it.
    public var localAddress: SocketAddress?
    /// The header received, when it carried addresses.
    public var proxyHeader: ProxyProtocolHeader?

    public init(address: SocketAddress?, connectionAddress: SocketAddress?, localAddress: SocketAddress?,
                proxyHeader: ProxyProtocolHeader? = nil) {
        self.address = address
        self.connectionAddress = connectionAddress
        self.localAddress = localAddress
        self.proxyHeader = proxyHeader
    }

    /// A plain connection: the socket's own peer. `withLocalAddress` costs a
    /// getsockname(2), which only `backendHeader` needs.
    public static func direct(_ socket: Socket, withLocalAddress: Bool = true) -> ClientPeer {
        ClientPeer(address: socket.peerAddress, connectionAddress: socket.peerAddress,
                   localAddress: withLocalAddress ? socket.localAddress : nil)
    }

    /// nginx's realip rule: the header's source replaces the peer only if
    /// the peer is trusted; the header is reported to the auth service anyway.
    public static func afterProxyHeader(_ header: ProxyProtocolHeader, socket: Socket, trust: RealIPTrust,
                                        withLocalAddress: Bool = true) -> ClientPeer {
        var peer = direct(socket, withLocalAddress: withLocalAddress)
        guard header.source != nil else { return peer }
        peer.proxyHeader = header
        if let source = header.source, let connection = peer.connectionAddress, trust.trusts(connection) {
            peer.address = source
        }
        return peer
    }

    /// Proxy-Protocol-Addr/-Port/-Server-Addr/-Server-Port for auth_http.
    public var authProxyProtocol: ProxyProtocolAddrs? {
        guard let header = proxyHeader, let source = header.source, let destination = header.destination else { return nil }
        return ProxyProtocolAddrs(sourceAddress: source.hostText, sourcePort: Int(source.port ?? 0),
                                  destinationAddress: destination.hostText, destinationPort: Int(destination.port ?? 0))
    }

    /// The header to send a backend with `proxy_protocol on|v2`: the (real)
    /// client and the address it connected to, as nginx writes them.
    public func backendHeader(version: ProxyProtocolVersion) -> [UInt8]? {
        switch version {
        case .off: return nil
        case .on: return ProxyProtocolWriter.v1(source: address, destination: localAddress)
        case .v2: return ProxyProtocolWriter.v2(source: address, destination: localAddress)
        }
    }
}
