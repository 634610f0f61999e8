/// Every reply text the SMTP side sends a client, as nginx words them
/// (ngx_mail_smtp_handler.c, ngx_mail_smtp_module.c, ngx_mail_proxy_module.c).
public enum SMTPReplies {
    public static let ok: [UInt8] = bytes("250 2.0.0 OK\r\n")
    public static let bye: [UInt8] = bytes("221 2.0.0 Bye\r\n")
    public static let startTLS: [UInt8] = bytes("220 2.0.0 Start TLS\r\n")
    public static let invalidCommand: [UInt8] = bytes("500 5.5.1 Invalid command\r\n")
    public static let invalidPipelining: [UInt8] = bytes("503 5.5.0 Improper use of SMTP command pipelining\r\n")
    public static let invalidArgument: [UInt8] = bytes("501 5.5.4 Invalid argument\r\n")
    public static let authRequired: [UInt8] = bytes("530 5.7.1 Authentication required\r\n")
    public static let badSequence: [UInt8] = bytes("503 5.5.1 Bad sequence of commands\r\n")
    /// What the client gets once the backend accepted an authenticated login.
    public static let authSucceeded: [UInt8] = bytes("235 2.0.0 OK\r\n")
    /// Auth service or backend failure (nginx's internal server error), then close.
    public static let internalServerError: [UInt8] = bytes("451 4.3.2 Internal server error\r\n")
    public static let authServiceUnavailable: [UInt8] = internalServerError
    public static let backendUnavailable: [UInt8] = internalServerError
    /// Postern's own: the session pool is full (RFC 5321 §3.8: 421 and close).
    public static let serverBusy: [UInt8] = bytes("421 4.3.2 Server busy, try again later\r\n")
    public static let sslCertificateError: [UInt8] = bytes("421 4.7.1 SSL certificate error\r\n")
    public static let sslCertificateRequired: [UInt8] = bytes("421 4.7.1 No required SSL certificate\r\n")
    /// nginx's code when the auth service sends no Auth-Error-Code.
    public static let defaultAuthErrorCode = "535 5.7.0"

    public static func greeting(serverName: String) -> [UInt8] {
        bytes("220 \(serverName) ESMTP ready\r\n")
    }

    public static func helo(serverName: String) -> [UInt8] {
        bytes("250 \(serverName)\r\n")
    }

    /// "<Auth-Error-Code> <Auth-Status text>".
    public static func loginRejected(code: String?, message: [UInt8]) -> [UInt8] {
        bytes(code ?? defaultAuthErrorCode) + bytes(" ") + message + bytes("\r\n")
    }

    /// A SASL challenge, "334 <base64>" (RFC 4954 §4).
    public static func challenge(_ base64: [UInt8]) -> [UInt8] {
        bytes("334 ") + base64 + bytes("\r\n")
    }

    /// The EHLO answer as nginx builds it: the server name, smtp_capabilities,
    /// an AUTH line for the enabled methods (PLAIN, LOGIN, CRAM-MD5, EXTERNAL),
    /// then STARTTLS when offered; with `starttls only` on plaintext the
    /// AUTH line is left out.
    public static func ehlo(
        serverName: String, capabilities: [String], authMethods: Set<AuthMethod>, starttls: StartTLSMode,
        tlsActive: Bool
    ) -> [UInt8] {
        var lines = [serverName] + capabilities
        let names: [(AuthMethod, String)] = [(.plain, "PLAIN"), (.login, "LOGIN"), (.cramMD5, "CRAM-MD5"),
                                             (.external, "EXTERNAL")]
        let enabled = names.filter { authMethods.contains($0.0) }.map(\.1)
        let offers = !tlsActive && starttls != .off
        if !(offers && starttls == .only) && !enabled.isEmpty {
            lines.append((["AUTH"] + enabled).joined(separator: " "))
        }
        if offers { lines.append("STARTTLS") }
        var out: [UInt8] = []
        for (i, line) in lines.enumerated() {
            out += bytes((i == lines.count - 1 ? "250 " : "250-") + line + "\r\n")
        }
        return out
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
}
