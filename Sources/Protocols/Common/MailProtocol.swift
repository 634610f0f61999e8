/// The three mail protocols Postern proxies, with the facts each states once:
/// its name on the wire to the auth service and its well-known ports.
public enum MailProtocol: String, Sendable, CaseIterable, Equatable {
    case imap
    case pop3
    case smtp

    /// Ports that select the protocol when a server block has no `protocol`
    /// directive (nginx's ngx_mail_core_module: imap 143/993, pop3 110/995,
    /// smtp 25/587/465).
    public static func forWellKnownPort(_ port: Int) -> MailProtocol? {
        switch port {
        case 143, 993: return .imap
        case 110, 995: return .pop3
        case 25, 587, 465: return .smtp
        default: return nil
        }
    }
}
