/// Builds the auth_http request headers in exactly nginx's order
/// (`ngx_mail_auth_http_create_request`): Host, Auth-Method, Auth-User,
/// Auth-Pass, [Auth-Salt], Auth-Protocol, Auth-Login-Attempt, Client-IP,
/// [Client-Host], [Proxy-Protocol-*], [Auth-SMTP-*], [Auth-SSL*], then the
/// `auth_http_header` extras. Each element is one header line without CRLF.
///
/// `host` is the Host header value: the auth_http host without its port, or
/// "localhost" for a unix socket (`AuthHTTPURL.hostHeader`).
public func authRequestHeaderFields(_ r: AuthRequest, host: String) -> [[UInt8]] {
    var lines: [[UInt8]] = []
    func add(_ name: String, _ value: [UInt8]) {
        lines.append(Array(name.utf8) + Array(": ".utf8) + value)
    }
    func addRaw(_ name: String, _ value: String) {
        add(name, AuthHeaderEscaping.escapeControls(value))
    }

    addRaw("Host", host)
    addRaw("Auth-Method", r.method)
    add("Auth-User", AuthHeaderEscaping.escapeCredential(r.user))
    add("Auth-Pass", AuthHeaderEscaping.escapeCredential(r.password))
    if (r.method == "apop" || r.method == "cram-md5") && !r.salt.isEmpty {
        add("Auth-Salt", AuthHeaderEscaping.escapeControls(r.salt))
    }
    addRaw("Auth-Protocol", r.protocolName)
    addRaw("Auth-Login-Attempt", String(r.loginAttempt))
    addRaw("Client-IP", r.clientIP)
    if let clientHost = r.clientHost, !clientHost.isEmpty {
        addRaw("Client-Host", clientHost)
    }
    if let proxy = r.proxyProtocol {
        addRaw("Proxy-Protocol-Addr", proxy.sourceAddress)
        addRaw("Proxy-Protocol-Port", String(proxy.sourcePort))
        addRaw("Proxy-Protocol-Server-Addr", proxy.destinationAddress)
        addRaw("Proxy-Protocol-Server-Port", String(proxy.destinationPort))
    }
    // nginx sends the envelope only for SMTP without AUTH ("smtp_auth none"),
    // and then always all three lines, empty when a command was not seen.
    if r.method == "none" {
        add("Auth-SMTP-Helo", AuthHeaderEscaping.escapeControls(r.smtpHelo ?? []))
        add("Auth-SMTP-From", AuthHeaderEscaping.escapeControls(r.smtpFrom ?? []))
        add("Auth-SMTP-To", AuthHeaderEscaping.escapeControls(r.smtpTo ?? []))
    }
    if let ssl = r.ssl {
        addRaw("Auth-SSL", "on")
        let optional: [(String, String)] = [
            ("Auth-SSL-Protocol", ssl.protocolVersion),
            ("Auth-SSL-Cipher", ssl.cipher),
            ("Auth-SSL-Verify", ssl.verify),
            ("Auth-SSL-Subject", ssl.subject),
            ("Auth-SSL-Issuer", ssl.issuer),
            ("Auth-SSL-Serial", ssl.serial),
            ("Auth-SSL-Fingerprint", ssl.fingerprint),
        ]
        for (name, value) in optional where !value.isEmpty {
            addRaw(name, value)
        }
        if !ssl.certificate.isEmpty {
            add("Auth-SSL-Cert", AuthHeaderEscaping.escapeCredential(ssl.certificate))
        }
    }
    for extra in r.extraHeaders {
        lines.append(AuthHeaderEscaping.escapeControls(extra.name) + Array(": ".utf8)
            + AuthHeaderEscaping.escapeControls(extra.value))
    }
    return lines
}

/// The same lines as Strings, for tests and debugging. Bytes that are not
/// UTF-8 show as U+FFFD; the lines contain the password, so never log them.
public func authRequestHeaderLines(_ r: AuthRequest, host: String) -> [String] {
    authRequestHeaderFields(r, host: host).map { String(decoding: $0, as: UTF8.self) }
}
