/// Every reply text the POP3 side sends a client, as nginx words them
/// (ngx_mail_pop3_handler.c, ngx_mail_pop3_module.c).
public enum POP3Replies {
    public static let ok: [UInt8] = bytes("+OK\r\n")
    public static let invalidCommand: [UInt8] = bytes("-ERR invalid command\r\n")
    /// Auth service or backend failure (nginx's internal server error), then close.
    public static let internalServerError: [UInt8] = bytes("-ERR internal server error\r\n")
    public static let authServiceUnavailable: [UInt8] = internalServerError
    public static let backendUnavailable: [UInt8] = internalServerError
    /// Postern's own: the session pool is full. RFC 3206 [SYS/TEMP] marks it temporary.
    public static let serverBusy: [UInt8] = bytes("-ERR [SYS/TEMP] Server busy, try again later\r\n")
    public static let sslCertificateError: [UInt8] = bytes("-ERR SSL certificate error\r\n")
    public static let sslCertificateRequired: [UInt8] = bytes("-ERR No required SSL certificate\r\n")

    /// "+OK POP3 ready", with the APOP/CRAM-MD5 salt appended when either is enabled (RFC 1939 §7).
    public static func greeting(salt: [UInt8]?) -> [UInt8] {
        guard let salt else { return bytes("+OK POP3 ready\r\n") }
        return bytes("+OK POP3 ready ") + salt + bytes("\r\n")
    }

    /// "-ERR <Auth-Status text>" for a login the auth service refused.
    public static func loginRejected(message: [UInt8]) -> [UInt8] {
        bytes("-ERR ") + message + bytes("\r\n")
    }

    /// A SASL challenge, "+ <base64>" (RFC 5034 §4).
    public static func challenge(_ base64: [UInt8]) -> [UInt8] {
        bytes("+ ") + base64 + bytes("\r\n")
    }

    /// SASL names nginx lists: PLAIN and LOGIN (both from `pop3_auth plain`),
    /// CRAM-MD5, EXTERNAL, in that order. APOP is not a SASL mechanism.
    static func saslNames(_ methods: Set<AuthMethod>) -> [String] {
        var names: [String] = []
        if methods.contains(.plain) { names += ["PLAIN", "LOGIN"] }
        if methods.contains(.cramMD5) { names.append("CRAM-MD5") }
        if methods.contains(.external) { names.append("EXTERNAL") }
        return names
    }

    /// The CAPA answer as nginx builds it (RFC 2449): the configured
    /// capabilities, a SASL line, and STLS when offered; with `starttls only`
    /// on a plaintext connection USER and SASL are left out.
    public static func capabilities(
        _ capabilities: [String], authMethods: Set<AuthMethod>, starttls: StartTLSMode, tlsActive: Bool,
        offerSTLS: Bool = true
    ) -> [UInt8] {
        var lines = ["+OK Capability list follows"]
        let offers = offerSTLS && !tlsActive && starttls != .off
        if offers && starttls == .only {
            lines += capabilities.filter { $0.uppercased() != "USER" }
            lines.append("STLS")
        } else {
            lines += capabilities
            lines.append((["SASL"] + saslNames(authMethods)).joined(separator: " "))
            if offers { lines.append("STLS") }
        }
        lines.append(".")
        return bytes(lines.joined(separator: "\r\n") + "\r\n")
    }

    /// The answer to a bare AUTH (RFC 5034 §4 allows listing mechanisms).
    public static func authMethodsList(_ methods: Set<AuthMethod>) -> [UInt8] {
        bytes((["+OK methods supported:"] + saslNames(methods) + ["."]).joined(separator: "\r\n") + "\r\n")
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
}
