import AuthCache
import Protocols

/// What one proxied session needs from its server block, as `ProxySettings`
/// shares it between copies (read as `settings.timeoutMillis`, and so on).
public struct ProxySettingsFields: Sendable {
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
    /// `auth_cache` and friends; nil when the cache is off.
    public var authCache: AuthCacheSettings?
    /// POP3 settings; the APOP/CRAM-MD5 salt is made per session.
    public var pop3: POP3SessionSettings
    /// SMTP settings; the CRAM-MD5 salt is made per session.
    public var smtp: SMTPSessionSettings
    /// `smtp_greeting_delay`; 0 greets at once.
    public var smtpGreetingDelayMillis: Int
    /// `xclient`: tell the SMTP backend who the client is.
    public var xclient: Bool
    /// `proxy_smtp_auth`: log in to the SMTP backend with AUTH PLAIN.
    public var proxySMTPAuth: Bool
    /// `listen ... proxy_protocol`: a PROXY header precedes the client's bytes.
    public var acceptProxyProtocol: Bool = false
    /// `set_real_ip_from`: whose PROXY header may replace the client address.
    public var realIPTrust = RealIPTrust(networks: [])
    /// `proxy_protocol on|v2`: the header sent to the backend first.
    public var backendProxyProtocol = ProxyProtocolVersion.off
    /// `resolver`: nil when unset or `off`.
    public var resolver: DNSResolver?
    /// TLS toward the client (`listen ... ssl` or `starttls on|only`); nil without.
    public var clientTLS: ClientTLSSettings?
    /// `proxy_ssl on`: TLS toward the backend; nil without.
    public var backendTLS: BackendTLSSettings?
    /// The other server blocks on this `listen ... ssl` address, by their
    /// `server_name`: the name the client asks for in SNI picks the block
    /// (its certificate and, once the handshake is done, its settings).
    public var sniServers: [(name: String, settings: ProxySettings)] = []
}

/// The fields of `ProxySettings`, shared by its copies until one of them is
/// changed. Only `ProxySettings` touches it, and it writes only to a storage
/// it holds the single reference to, so no thread ever reads one while
/// another writes it.
final class ProxySettingsStorage: @unchecked Sendable {
    var fields: ProxySettingsFields

    init(_ fields: ProxySettingsFields) {
        self.fields = fields
    }
}
