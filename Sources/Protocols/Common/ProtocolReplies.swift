/// The canned replies a driver sends without a session, per protocol, in one
/// place (the per-protocol texts live in IMAPReplies, POP3Replies, SMTPReplies).
extension MailProtocol {
    /// The session pool and its queue are full: answer this and close.
    public var serverBusyReply: [UInt8] {
        switch self {
        case .imap: return IMAPReplies.serverBusy
        case .pop3: return POP3Replies.serverBusy
        case .smtp: return SMTPReplies.serverBusy
        }
    }

    /// nginx's "internal server error": the auth service or the backend
    /// failed. Answer this and close.
    public var internalServerErrorReply: [UInt8] {
        switch self {
        case .imap: return IMAPReplies.internalServerError
        case .pop3: return POP3Replies.internalServerError
        case .smtp: return SMTPReplies.internalServerError
        }
    }

    /// `ssl_verify_client` refused the client's certificate.
    public var sslCertificateErrorReply: [UInt8] {
        switch self {
        case .imap: return IMAPReplies.sslCertificateError
        case .pop3: return POP3Replies.sslCertificateError
        case .smtp: return SMTPReplies.sslCertificateError
        }
    }

    /// `ssl_verify_client on` and the client sent no certificate.
    public var sslCertificateRequiredReply: [UInt8] {
        switch self {
        case .imap: return IMAPReplies.sslCertificateRequired
        case .pop3: return POP3Replies.sslCertificateRequired
        case .smtp: return SMTPReplies.sslCertificateRequired
        }
    }
}
