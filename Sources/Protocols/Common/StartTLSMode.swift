/// The `starttls` directive of nginx's ngx_mail_ssl_module: whether the
/// plaintext listener offers STARTTLS (IMAP), STLS (POP3) or STARTTLS (SMTP),
/// and whether logins are refused until TLS is up (`only`).
public enum StartTLSMode: String, Sendable, CaseIterable, Equatable {
    case off
    case on
    case only
}
