import Glibc
import Protocols

/// The per-session challenge for CRAM-MD5 (and APOP), unique per session so
/// a captured digest cannot be replayed. Empty when `methods` offers neither:
/// no other method reads it, and nginx makes none then either.
func makeSessionSalt(serverName: String, methods: Set<AuthMethod>) -> [UInt8] {
    guard methods.contains(.cramMD5) || methods.contains(.apop) else { return [] }
    return MailSalt.make(random: UInt64.random(in: 0...UInt64.max), unixTime: Int64(time(nil)),
                         serverName: serverName)
}
