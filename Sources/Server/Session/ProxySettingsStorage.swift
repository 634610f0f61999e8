import AuthCache
import Protocols

/// The fields of `ProxySettings`, shared by its copies until one of them is
/// changed. Only `ProxySettings` touches it, and it writes only to a storage
/// it holds the single reference to, so no thread ever reads one while
/// another writes it.
final class ProxySettingsStorage: @unchecked Sendable {
    var mailProtocol: MailProtocol
    var serverName: String
    var timeoutMillis: Int
    var authURL: AuthCache.AuthHTTPURL
    var authTimeoutMillis: Int
    var authHeaders: [AuthHTTPExtraHeader]
    var passErrorMessage: Bool
    var relay: RelayOptions
    var imap: IMAPSessionSettings
    var authCache: AuthCacheSettings?
    var pop3: POP3SessionSettings
    var smtp: SMTPSessionSettings
    var smtpGreetingDelayMillis: Int
    var xclient: Bool
    var proxySMTPAuth: Bool
    var acceptProxyProtocol = false
    var realIPTrust = RealIPTrust(networks: [])
    var backendProxyProtocol = ProxyProtocolVersion.off
    var resolver: DNSResolver?
    var clientTLS: ClientTLSSettings?
    var backendTLS: BackendTLSSettings?
    var sniServers: [(name: String, settings: ProxySettings)] = []

    init(mailProtocol: MailProtocol, serverName: String, timeoutMillis: Int, authURL: AuthCache.AuthHTTPURL,
         authTimeoutMillis: Int, authHeaders: [AuthHTTPExtraHeader], passErrorMessage: Bool,
         relay: RelayOptions, imap: IMAPSessionSettings, authCache: AuthCacheSettings?,
         pop3: POP3SessionSettings, smtp: SMTPSessionSettings,
         smtpGreetingDelayMillis: Int, xclient: Bool, proxySMTPAuth: Bool) {
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

    func copy() -> ProxySettingsStorage {
        let copy = ProxySettingsStorage(
            mailProtocol: mailProtocol, serverName: serverName, timeoutMillis: timeoutMillis, authURL: authURL,
            authTimeoutMillis: authTimeoutMillis, authHeaders: authHeaders, passErrorMessage: passErrorMessage,
            relay: relay, imap: imap, authCache: authCache, pop3: pop3, smtp: smtp,
            smtpGreetingDelayMillis: smtpGreetingDelayMillis, xclient: xclient, proxySMTPAuth: proxySMTPAuth)
        copy.acceptProxyProtocol = acceptProxyProtocol
        copy.realIPTrust = realIPTrust
        copy.backendProxyProtocol = backendProxyProtocol
        copy.resolver = resolver
        copy.clientTLS = clientTLS
        copy.backendTLS = backendTLS
        copy.sniServers = sniServers
        return copy
    }
}
