/// Every reply text the IMAP side of Postern sends a client, in one place.
/// Texts are nginx's (ngx_mail_imap_handler.c, ngx_mail_imap_module.c); a
/// client that was served by nginx sees the same bytes.
public enum IMAPReplies {
    public static let greeting: [UInt8] = bytes("* OK IMAP4 ready\r\n")
    /// Untagged part of the LOGOUT answer (RFC 3501 §6.1.3).
    public static let bye: [UInt8] = bytes("* BYE\r\n")
    /// nginx's continuation request for a synchronizing literal.
    public static let literalContinuation: [UInt8] = bytes("+ OK\r\n")

    /// nginx's temporary failure for everything that is not the client's
    /// fault: the auth service down or answering nonsense, the backend down
    /// or refusing without proxy_pass_error_message. Untagged, then close.
    public static let internalServerError: [UInt8] = bytes("* BAD internal server error\r\n")
    /// The auth service could not be asked (nginx: internal server error).
    public static let authServiceUnavailable: [UInt8] = internalServerError
    /// The backend could not be reached or logged into (nginx: internal server error).
    public static let backendUnavailable: [UInt8] = internalServerError
    /// Postern's own: the session pool and its queue are full. nginx has no
    /// such limit; RFC 5530's UNAVAILABLE code tells clients to retry later.
    public static let serverBusy: [UInt8] = bytes("* BYE [UNAVAILABLE] Server busy, try again later\r\n")
    /// ssl_verify_client failures, as nginx words them.
    public static let sslCertificateError: [UInt8] = bytes("* BYE SSL certificate error\r\n")
    public static let sslCertificateRequired: [UInt8] = bytes("* BYE No required SSL certificate\r\n")

    /// "<tag> OK completed": nginx's answer to every accepted pre-auth command.
    public static func completed(tag: [UInt8]) -> [UInt8] {
        tag + bytes(" OK completed\r\n")
    }

    /// "<tag> BAD invalid command", or "* BAD ..." when no tag was read.
    public static func invalidCommand(tag: [UInt8]?) -> [UInt8] {
        (tag ?? bytes("*")) + bytes(" BAD invalid command\r\n")
    }

    /// "<tag> NO <Auth-Status text>" for a login the auth service refused.
    public static func loginRejected(tag: [UInt8], message: [UInt8]) -> [UInt8] {
        tag + bytes(" NO ") + message + bytes("\r\n")
    }

    /// A SASL challenge: "+ <base64>" (RFC 3501 §7.5); nginx sends "+ " with
    /// nothing after it for PLAIN.
    public static func challenge(_ base64: [UInt8]) -> [UInt8] {
        bytes("+ ") + base64 + bytes("\r\n")
    }

    /// The untagged CAPABILITY line as nginx builds it at config time: the
    /// configured capabilities, then AUTH= for each enabled method in the
    /// order PLAIN, LOGIN, CRAM-MD5, EXTERNAL; on a plaintext connection with
    /// `starttls on` STARTTLS is appended, with `starttls only` the AUTH=
    /// tokens are dropped and "STARTTLS LOGINDISABLED" appended.
    public static func capability(
        _ capabilities: [String], authMethods: Set<AuthMethod>, starttls: StartTLSMode, tlsActive: Bool
    ) -> [UInt8] {
        var tokens = ["* CAPABILITY"] + capabilities
        let authTokens: [(AuthMethod, String)] = [
            (.plain, "AUTH=PLAIN"), (.login, "AUTH=LOGIN"), (.cramMD5, "AUTH=CRAM-MD5"), (.external, "AUTH=EXTERNAL"),
        ]
        let offersTLS = !tlsActive && starttls != .off
        if offersTLS && starttls == .only {
            tokens += ["STARTTLS", "LOGINDISABLED"]
        } else {
            tokens += authTokens.filter { authMethods.contains($0.0) }.map(\.1)
            if offersTLS { tokens.append("STARTTLS") }
        }
        return bytes(tokens.joined(separator: " ") + "\r\n")
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
}
