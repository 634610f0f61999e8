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
    public var acceptProxyProtocol = false
    /// `set_real_ip_from`: whose PROXY header may replace the client address.
    public var realIPTrust = RealIPTrust(networks: [])
    /// `proxy_protocol on|v2`: the header sent to the backend first.
    public var backendProxyProtocol = ProxyProtocolVersion.off
    /// `resolver`: nil when unset or `off`.
    public var resolver: DNSResolver?

    public init(mailProtocol: MailProtocol, serverName: String, timeoutMillis: Int, authURL: AuthCache.AuthHTTPURL,
                authTimeoutMillis: Int, authHeaders: [AuthHTTPExtraHeader], passErrorMessage: Bool,
                relay: RelayOptions, imap: IMAPSessionSettings, authCache: AuthCacheSettings? = nil,
                pop3: POP3SessionSettings = POP3SessionSettings(),
                smtp: SMTPSessionSettings = SMTPSessionSettings(),
                smtpGreetingDelayMillis: Int = 0, xclient: Bool = true, proxySMTPAuth: Bool = false) {
        self.mailProtocol = mailProtocol
        self.serverName = serverName
        self.timeoutMillis = timeoutMillis
        self.authURL = authURL
        self.authTimeoutMillis = authTimeoutMillis
        self.authHeaders = authHeaders
        self.passErrorMessage = passErrorMessage
        self.relay = relay
        self.imap = imap
        self.authCache = authCache
        self.pop3 = pop3
        self.smtp = smtp
        self.smtpGreetingDelayMillis = smtpGreetingDelayMillis
        self.xclient = xclient
        self.proxySMTPAuth = proxySMTPAuth
    }
}
