import AuthCache
import Protocols

/// What one proxied session needs from its server block, resolved from the
/// configuration once per (re)load. Sessions keep the snapshot they started
/// with; a reload affects new sessions only.
public struct ProxySettings: Sendable {
    // Every session copies its server block's settings several times on its
    // way to the relay; as a plain struct each copy retained some twenty
    // strings, arrays and objects (bench/profile.sh: ~25k instructions a
    // login). One shared, copy-on-write storage makes a copy one retain.
    private var storage: ProxySettingsStorage

    private mutating func writable() -> ProxySettingsStorage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    public var mailProtocol: MailProtocol {
        get { storage.mailProtocol }
        set { writable().mailProtocol = newValue }
    }
    public var serverName: String {
        get { storage.serverName }
        set { writable().serverName = newValue }
    }
    /// nginx `timeout`: the longest wait for the client, the auth service's
    /// answer aside, or the backend before the session is relayed.
    public var timeoutMillis: Int {
        get { storage.timeoutMillis }
        set { writable().timeoutMillis = newValue }
    }
    public var authURL: AuthCache.AuthHTTPURL {
        get { storage.authURL }
        set { writable().authURL = newValue }
    }
    public var authTimeoutMillis: Int {
        get { storage.authTimeoutMillis }
        set { writable().authTimeoutMillis = newValue }
    }
    public var authHeaders: [AuthHTTPExtraHeader] {
        get { storage.authHeaders }
        set { writable().authHeaders = newValue }
    }
    public var passErrorMessage: Bool {
        get { storage.passErrorMessage }
        set { writable().passErrorMessage = newValue }
    }
    public var relay: RelayOptions {
        get { storage.relay }
        set { writable().relay = newValue }
    }
    /// IMAP settings; the salt is made per session.
    public var imap: IMAPSessionSettings {
        get { storage.imap }
        set { writable().imap = newValue }
    }
    /// `auth_cache` and friends; nil when the cache is off.
    public var authCache: AuthCacheSettings? {
        get { storage.authCache }
        set { writable().authCache = newValue }
    }
    /// POP3 settings; the APOP/CRAM-MD5 salt is made per session.
    public var pop3: POP3SessionSettings {
        get { storage.pop3 }
        set { writable().pop3 = newValue }
    }
    /// SMTP settings; the CRAM-MD5 salt is made per session.
    public var smtp: SMTPSessionSettings {
        get { storage.smtp }
        set { writable().smtp = newValue }
    }
    /// `smtp_greeting_delay`; 0 greets at once.
    public var smtpGreetingDelayMillis: Int {
        get { storage.smtpGreetingDelayMillis }
        set { writable().smtpGreetingDelayMillis = newValue }
    }
    /// `xclient`: tell the SMTP backend who the client is.
    public var xclient: Bool {
        get { storage.xclient }
        set { writable().xclient = newValue }
    }
    /// `proxy_smtp_auth`: log in to the SMTP backend with AUTH PLAIN.
    public var proxySMTPAuth: Bool {
        get { storage.proxySMTPAuth }
        set { writable().proxySMTPAuth = newValue }
    }
    /// `listen ... proxy_protocol`: a PROXY header precedes the client's bytes.
    public var acceptProxyProtocol: Bool {
        get { storage.acceptProxyProtocol }
        set { writable().acceptProxyProtocol = newValue }
    }
    /// `set_real_ip_from`: whose PROXY header may replace the client address.
    public var realIPTrust: RealIPTrust {
        get { storage.realIPTrust }
        set { writable().realIPTrust = newValue }
    }
    /// `proxy_protocol on|v2`: the header sent to the backend first.
    public var backendProxyProtocol: ProxyProtocolVersion {
        get { storage.backendProxyProtocol }
        set { writable().backendProxyProtocol = newValue }
    }
    /// `resolver`: nil when unset or `off`.
    public var resolver: DNSResolver? {
        get { storage.resolver }
        set { writable().resolver = newValue }
    }
    /// TLS toward the client (`listen ... ssl` or `starttls on|only`); nil without.
    public var clientTLS: ClientTLSSettings? {
        get { storage.clientTLS }
        set { writable().clientTLS = newValue }
    }
    /// `proxy_ssl on`: TLS toward the backend; nil without.
    public var backendTLS: BackendTLSSettings? {
        get { storage.backendTLS }
        set { writable().backendTLS = newValue }
    }
    /// The other server blocks on this `listen ... ssl` address, by their
    /// `server_name`: the name the client asks for in SNI picks the block
    /// (its certificate and, once the handshake is done, its settings).
    public var sniServers: [(name: String, settings: ProxySettings)] {
        get { storage.sniServers }
        set { writable().sniServers = newValue }
    }
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
        storage = ProxySettingsStorage(
            mailProtocol: mailProtocol, serverName: serverName, timeoutMillis: timeoutMillis, authURL: authURL,
            authTimeoutMillis: authTimeoutMillis, authHeaders: authHeaders, passErrorMessage: passErrorMessage,
            relay: relay, imap: imap, authCache: authCache, pop3: pop3, smtp: smtp,
            smtpGreetingDelayMillis: smtpGreetingDelayMillis, xclient: xclient, proxySMTPAuth: proxySMTPAuth)
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
