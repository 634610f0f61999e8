import Glibc
import Protocols

/// The per-session challenge for CRAM-MD5 (and APOP), unique per session so
/// a captured digest cannot be replayed.
func makeSessionSalt(serverName: String) -> [UInt8] {
    MailSalt.make(random: UInt64.random(in: 0...UInt64.max), unixTime: Int64(time(nil)), serverName: serverName)
}
