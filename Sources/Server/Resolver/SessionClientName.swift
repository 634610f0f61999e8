import Protocols

extension ProxySettings {
    /// Client-Host / XCLIENT NAME for a session, as nginx's SMTP module decides
    /// it: without a `resolver`, "[UNAVAILABLE]" ("[TEMPUNAVAIL]" for a unix
    /// socket client); with one, the forward-confirmed name or a placeholder,
    /// bounded by `resolver_timeout`.
    public func clientName(for peer: ClientPeer) -> ClientName {
        guard let address = peer.address else { return .temporarilyUnavailable }
        guard let resolver = self.resolver else {
            if case .unix = address { return .temporarilyUnavailable }
            return .unavailable
        }
        return resolver.resolveClientName(address)
    }
}
