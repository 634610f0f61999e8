/// The challenge nginx makes for APOP and CRAM-MD5 (ngx_mail_salt):
/// `<random.time@server_name>` (RFC 1939 §7 timestamp form). The driver
/// supplies the random number and the clock; this stays pure.
public enum MailSalt {
    public static func make(random: UInt64, unixTime: Int64, serverName: String) -> [UInt8] {
        Array("<\(random).\(unixTime)@\(serverName)>".utf8)
    }
}
