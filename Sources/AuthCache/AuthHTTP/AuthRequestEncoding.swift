/// Builds the auth_http request headers in exactly nginx's order
/// (`ngx_mail_auth_http_create_request`): Host, Auth-Method, Auth-User,
/// Auth-Pass, [Auth-Salt], Auth-Protocol, Auth-Login-Attempt, Client-IP,
/// [Client-Host], [Proxy-Protocol-*], [Auth-SMTP-*], [Auth-SSL*], then the
/// `auth_http_header` extras. Each element is one header line without CRLF.
///
/// `host` is the Host header value: the auth_http host without its port, or
/// "localhost" for a unix socket (`AuthHTTPURL.hostHeader`).
public func authRequestHeaderFields(_ r: AuthRequest, host: String) -> [[UInt8]] {
    var block: [UInt8] = []
    appendAuthRequestHeaders(r, host: host, to: &block)
    // Escaping leaves no CR or LF inside a line, so CRLF separates them exactly.
    var lines: [[UInt8]] = []
    var start = 0
    var i = 0
    while i + 1 < block.count {
        if block[i] == 0x0D && block[i + 1] == 0x0A {
            lines.append(Array(block[start..<i]))
            i += 2
            start = i
        } else {
            i += 1
        }
    }
    return lines
}

/// Writes the header lines of `authRequestHeaderFields`, each ended by CRLF,
/// straight into `out`: one buffer for the whole request, no array per line
/// (building lines separately cost more than the rest of the exchange).
func appendAuthRequestHeaders(_ r: AuthRequest, host: String, to out: inout [UInt8]) {
    func name(_ n: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: n.utf8Start, count: n.utf8CodeUnitCount))
        out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
    }
    func end() { out.append(contentsOf: [0x0D, 0x0A]) }
    func addRaw(_ n: StaticString, _ value: String) {
        name(n)
        AuthHeaderEscaping.appendEscaped(value.utf8, to: &out, where: AuthHeaderEscaping.isControl)
        end()
    }
    func addControls(_ n: StaticString, _ value: [UInt8]) {
        name(n)
        AuthHeaderEscaping.appendEscaped(value, to: &out, where: AuthHeaderEscaping.isControl)
        end()
    }
    func addCredential(_ n: StaticString, _ value: [UInt8]) {
        name(n)
        AuthHeaderEscaping.appendEscaped(value, to: &out, where: AuthHeaderEscaping.isEscapedInCredential)
        end()
    }

    addRaw("Host", host)
    addRaw("Auth-Method", r.method)
    addCredential("Auth-User", r.user)
    addCredential("Auth-Pass", r.password)
    if (r.method == "apop" || r.method == "cram-md5") && !r.salt.isEmpty {
        addControls("Auth-Salt", r.salt)
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
        addControls("Auth-SMTP-Helo", r.smtpHelo ?? [])
        addControls("Auth-SMTP-From", r.smtpFrom ?? [])
        addControls("Auth-SMTP-To", r.smtpTo ?? [])
    }
    if let ssl = r.ssl {
        addRaw("Auth-SSL", "on")
        if !ssl.protocolVersion.isEmpty { addRaw("Auth-SSL-Protocol", ssl.protocolVersion) }
        if !ssl.cipher.isEmpty { addRaw("Auth-SSL-Cipher", ssl.cipher) }
        if !ssl.verify.isEmpty { addRaw("Auth-SSL-Verify", ssl.verify) }
        if !ssl.subject.isEmpty { addRaw("Auth-SSL-Subject", ssl.subject) }
        if !ssl.issuer.isEmpty { addRaw("Auth-SSL-Issuer", ssl.issuer) }
        if !ssl.serial.isEmpty { addRaw("Auth-SSL-Serial", ssl.serial) }
        if !ssl.fingerprint.isEmpty { addRaw("Auth-SSL-Fingerprint", ssl.fingerprint) }
        if !ssl.certificate.isEmpty { addCredential("Auth-SSL-Cert", ssl.certificate) }
    }
    for extra in r.extraHeaders {
        AuthHeaderEscaping.appendEscaped(extra.name.utf8, to: &out, where: AuthHeaderEscaping.isControl)
        out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
        AuthHeaderEscaping.appendEscaped(extra.value.utf8, to: &out, where: AuthHeaderEscaping.isControl)
        end()
    }
}

/// The whole request as it goes on the wire: `GET <uri> HTTP/1.1`, the
/// header lines of `authRequestHeaderFields`, each ended by CRLF, and the
/// empty line. One buffer, one write.
public func authRequestBytes(_ r: AuthRequest, url: AuthHTTPURL) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(512)
    out.append(contentsOf: "GET ".utf8)
    if !url.uri.hasPrefix("/") { out.append(UInt8(ascii: "/")) }
    out.append(contentsOf: url.uri.utf8)
    out.append(contentsOf: " HTTP/1.1\r\n".utf8)
    appendAuthRequestHeaders(r, host: url.hostHeader, to: &out)
    out.append(contentsOf: "\r\n".utf8)
    return out
}

/// The same lines as Strings, for tests and debugging. Bytes that are not
/// UTF-8 show as U+FFFD; the lines contain the password, so never log them.
public func authRequestHeaderLines(_ r: AuthRequest, host: String) -> [String] {
    authRequestHeaderFields(r, host: host).map { String(decoding: $0, as: UTF8.self) }
}
