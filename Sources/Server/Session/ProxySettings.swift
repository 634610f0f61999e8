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
    /// TLS toward the client (`listen ... ssl` or `starttls on|only`); nil without.
    public var clientTLS: ClientTLSSettings?
    /// `proxy_ssl on`: TLS toward the backend; nil without.
    public var backendTLS: BackendTLSSettings?
    /// The other server blocks on this `listen ... ssl` address, by their
    /// `server_name`: the name the client asks for in SNI picks the block
    /// (its certificate and, once the handshake is done, its settings).
    public var sniServers: [(name: String, settings: ProxySettings)] = []

    /// The settings of the server block SNI selected (`selectedName` of the
    /// handshake), or these for the default block.
    public func selected(byServerName name: String?) -> ProxySettings {
        guard let name, let found = sniServers.first(where: { $0.name == name }) else { return self }
        return found.settings
    }

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

/// TLS toward the client, as one server block asks for it.
public struct ClientTLSSettings: Sendable {
    /// `listen ... ssl`: the handshake comes before the greeting.
    public var implicit: Bool
    /// The default certificate and those SNI may choose.
    public var contexts: TLSServerContextSet
    /// `ssl_verify_client`: whether and how a client certificate is required.
    public var verifyClient: SSLVerifyClient
    /// `auth_http_pass_client_cert`: send the certificate (Auth-SSL-Cert).
    public var passClientCertificate: Bool

    public init(implicit: Bool, contexts: TLSServerContextSet, verifyClient: SSLVerifyClient = .off,
                passClientCertificate: Bool = false) {
        self.implicit = implicit
        self.contexts = contexts
        self.verifyClient = verifyClient
        self.passClientCertificate = passClientCertificate
    }
}

/// TLS toward the backend (`proxy_ssl on`).
public struct BackendTLSSettings: Sendable {
    public var context: TLSClientContext
    /// `proxy_ssl_name`: the name verified (and sent in SNI); nil: the
    /// upstream host as the auth service named it.
    public var name: String?
    /// `proxy_ssl_server_name`: send SNI.
    public var sendServerName: Bool

    public init(context: TLSClientContext, name: String? = nil, sendServerName: Bool = false) {
        self.context = context
        self.name = name
        self.sendServerName = sendServerName
    }
}
