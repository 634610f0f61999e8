import AuthCache
import Protocols

/// What one proxied session needs from its server block, resolved from the
/// configuration once per (re)load. Sessions keep the snapshot they started
/// with; a reload affects new sessions only. The fields are those of
/// `ProxySettingsFields`, read and written through this value.
@dynamicMemberLookup
public struct ProxySettings: Sendable {
    // Every session copies its server block's settings several times on its
    // way to the relay; as a plain struct each copy retained some twenty
    // strings, arrays and objects (bench/profile.sh: ~25k instructions a
    // login). One shared, copy-on-write storage makes a copy one retain.
    private var storage: ProxySettingsStorage

    public subscript<T>(dynamicMember field: WritableKeyPath<ProxySettingsFields, T>) -> T {
        get { storage.fields[keyPath: field] }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = ProxySettingsStorage(storage.fields) }
            storage.fields[keyPath: field] = newValue
        }
    }

    /// The settings of the server block SNI selected (`selectedName` of the
    /// handshake), or these for the default block.
    public func selected(byServerName name: String?) -> ProxySettings {
        guard let name, let found = self.sniServers.first(where: { $0.name == name }) else { return self }
        return found.settings
    }

    public init(mailProtocol: MailProtocol, serverName: String, timeoutMillis: Int, authURL: AuthCache.AuthHTTPURL,
                authTimeoutMillis: Int, authHeaders: [AuthHTTPExtraHeader], passErrorMessage: Bool,
                relay: RelayOptions, imap: IMAPSessionSettings, authCache: AuthCacheSettings? = nil,
                pop3: POP3SessionSettings = POP3SessionSettings(),
                smtp: SMTPSessionSettings = SMTPSessionSettings(),
                smtpGreetingDelayMillis: Int = 0, xclient: Bool = true, proxySMTPAuth: Bool = false) {
        storage = ProxySettingsStorage(ProxySettingsFields(
            mailProtocol: mailProtocol, serverName: serverName, timeoutMillis: timeoutMillis, authURL: authURL,
            authTimeoutMillis: authTimeoutMillis, authHeaders: authHeaders, passErrorMessage: passErrorMessage,
            relay: relay, imap: imap, authCache: authCache, pop3: pop3, smtp: smtp,
            smtpGreetingDelayMillis: smtpGreetingDelayMillis, xclient: xclient, proxySMTPAuth: proxySMTPAuth))
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
