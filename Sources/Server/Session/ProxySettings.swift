import AuthCache
import Protocols

/// What one proxied session needs from its server block, resolved from the
/// configuration once per (re)load. Sessions keep the snapshot they started
/// with; a reload affects new sessions only.
public struct ProxySettings: Sendable {
    public var mailProtocol: MailProtocol
    public var serverName: String
    /// nginx `timeout`: the longest wait for the client, the auth service's
    /// answer aside, or the backend before the session is relayed.
    public var timeoutMillis: Int
    public var authURL: AuthCache.AuthHTTPURL
    public var authTimeoutMillis: Int
    public var authHeaders: [AuthHTTPExtraHeader]
    public var passErrorMessage: Bool
    public var relay: RelayOptions
    /// IMAP settings; the salt is made per session.
    public var imap: IMAPSessionSettings
    /// `listen ... proxy_protocol`: a PROXY header precedes the client's bytes.
    public var acceptProxyProtocol = false
    /// `set_real_ip_from`: whose PROXY header may replace the client address.
    public var realIPTrust = RealIPTrust(networks: [])
    /// `proxy_protocol on|v2`: the header sent to the backend first.
    public var backendProxyProtocol = ProxyProtocolVersion.off
    /// `resolver`: nil when unset or `off`.
    public var resolver: DNSResolver?

    public init(mailProtocol: MailProtocol, serverName: String, timeoutMillis: Int, authURL: AuthCache.AuthHTTPURL,
                authTimeoutMillis: Int, authHeaders: [AuthHTTPExtraHeader], passErrorMessage: Bool,
                relay: RelayOptions, imap: IMAPSessionSettings) {
        self.mailProtocol = mailProtocol
        self.serverName = serverName
        self.timeoutMillis = timeoutMillis
        self.authURL = authURL
        self.authTimeoutMillis = authTimeoutMillis
        self.authHeaders = authHeaders
        self.passErrorMessage = passErrorMessage
        self.relay = relay
        self.imap = imap
    }
}
