/// Everything nginx's mail auth module tells the auth service about one login
/// attempt. The Server layer fills it from a session; `authRequestHeaderLines`
/// turns it into the request headers, in nginx's order and with its escaping.
///
/// Byte arrays where the client chose the bytes (login, password, SMTP
/// envelope): a lossy UTF-8 decode would change an identity.
public struct AuthRequest: Sendable, Equatable {
    /// `Auth-Method`: "plain" (also for LOGIN and USER/PASS), "apop",
    /// "cram-md5", "external" or "none" (SMTP without AUTH).
    public var method: String
    /// `Auth-User`, sent escaped.
    public var user: [UInt8]
    /// `Auth-Pass`, sent escaped. For APOP and CRAM-MD5 the client's digest.
    public var password: [UInt8]
    /// `Auth-Salt`: the APOP/CRAM-MD5 challenge, without nginx's trailing
    /// CRLF. Sent only for "apop" and "cram-md5" and only when not empty.
    public var salt: [UInt8]
    /// `Auth-Protocol`: "imap", "pop3" or "smtp".
    public var protocolName: String
    /// `Auth-Login-Attempt`: 1 for the first login of a session, counting
    /// up with each retry (nginx increments it per AUTH/LOGIN/USER-PASS,
    /// not when it repeats a request after `Auth-Status: WAIT`).
    public var loginAttempt: Int
    /// `Client-IP`: the client address as text (after realip/PROXY rewriting).
    public var clientIP: String
    /// `Client-Host`, omitted when nil or empty. nginx fills it for SMTP only:
    /// the resolved name, `AuthRequest.hostUnavailable` when no resolver is
    /// configured, `AuthRequest.hostTemporarilyUnavailable` when resolving
    /// failed temporarily (or the client came over a unix socket).
    public var clientHost: String?
    /// `Auth-SMTP-Helo`, `-From`, `-To`: sent (empty when nil) only when
    /// `method` is "none", as nginx does. From and To are the whole
    /// `MAIL FROM:...` / `RCPT TO:...` command lines, parameters included.
    public var smtpHelo: [UInt8]?
    public var smtpFrom: [UInt8]?
    public var smtpTo: [UInt8]?
    /// Set when the client connection is TLS: `Auth-SSL: on` and details.
    public var ssl: AuthSSLInfo?
    /// Set when the connection came with a PROXY protocol header.
    public var proxyProtocol: ProxyProtocolAddrs?
    /// `auth_http_header` extras, in configuration order, sent last.
    public var extraHeaders: [AuthHTTPExtraHeader]

    /// nginx's `Client-Host` when `resolver` is off (SMTP).
    public static let hostUnavailable = "[UNAVAILABLE]"
    /// nginx's `Client-Host` when the name lookup failed temporarily (SMTP).
    public static let hostTemporarilyUnavailable = "[TEMPUNAVAIL]"

    public init(
        method: String,
        user: [UInt8],
        password: [UInt8],
        salt: [UInt8] = [],
        protocolName: String,
        loginAttempt: Int = 1,
        clientIP: String,
        clientHost: String? = nil,
        smtpHelo: [UInt8]? = nil,
        smtpFrom: [UInt8]? = nil,
        smtpTo: [UInt8]? = nil,
        ssl: AuthSSLInfo? = nil,
        proxyProtocol: ProxyProtocolAddrs? = nil,
        extraHeaders: [AuthHTTPExtraHeader] = []
    ) {
        self.method = method
        self.user = user
        self.password = password
        self.salt = salt
        self.protocolName = protocolName
        self.loginAttempt = loginAttempt
        self.clientIP = clientIP
        self.clientHost = clientHost
        self.smtpHelo = smtpHelo
        self.smtpFrom = smtpFrom
        self.smtpTo = smtpTo
        self.ssl = ssl
        self.proxyProtocol = proxyProtocol
        self.extraHeaders = extraHeaders
    }
}

extension AuthRequest: CustomStringConvertible {
    /// For logs: never shows the password or the salt-based digest.
    public var description: String {
        "auth request: method=\(method) user=\"\(String(decoding: user, as: UTF8.self))\" "
            + "protocol=\(protocolName) attempt=\(loginAttempt) client=\(clientIP)"
    }
}

/// TLS details of the client connection. Empty strings are omitted, as
/// nginx omits empty values; nginx fills `verify` ... `fingerprint` only when
/// `ssl_verify_client` is on, and `certificate` only with
/// `auth_http_pass_client_cert on`.
public struct AuthSSLInfo: Sendable, Equatable {
    /// `Auth-SSL-Protocol`, e.g. "TLSv1.3".
    public var protocolVersion: String
    /// `Auth-SSL-Cipher`, e.g. "TLS_AES_256_GCM_SHA384".
    public var cipher: String
    /// `Auth-SSL-Verify`: "SUCCESS", "FAILED:reason" or "NONE".
    public var verify: String
    /// `Auth-SSL-Subject` and `-Issuer`: RFC 2253 distinguished names.
    public var subject: String
    public var issuer: String
    /// `Auth-SSL-Serial`: the serial number in hex.
    public var serial: String
    /// `Auth-SSL-Fingerprint`: the SHA-1 fingerprint in hex.
    public var fingerprint: String
    /// `Auth-SSL-Cert`: the client certificate in PEM, sent escaped.
    public var certificate: [UInt8]

    public init(
        protocolVersion: String = "",
        cipher: String = "",
        verify: String = "",
        subject: String = "",
        issuer: String = "",
        serial: String = "",
        fingerprint: String = "",
        certificate: [UInt8] = []
    ) {
        self.protocolVersion = protocolVersion
        self.cipher = cipher
        self.verify = verify
        self.subject = subject
        self.issuer = issuer
        self.serial = serial
        self.fingerprint = fingerprint
        self.certificate = certificate
    }
}

/// The addresses a PROXY protocol header announced (source is the real client).
public struct ProxyProtocolAddrs: Sendable, Equatable {
    public var sourceAddress: String
    public var sourcePort: Int
    public var destinationAddress: String
    public var destinationPort: Int

    public init(sourceAddress: String, sourcePort: Int, destinationAddress: String, destinationPort: Int) {
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.destinationAddress = destinationAddress
        self.destinationPort = destinationPort
    }
}

/// One `auth_http_header NAME VALUE;` directive.
public struct AuthHTTPExtraHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
