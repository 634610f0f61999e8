import Glibc

/// The per-session challenge for CRAM-MD5 (and later APOP), in nginx's form
/// `<random.time@server_name>`: unique per session, so a captured digest
/// cannot be replayed.
func makeSessionSalt(serverName: String) -> [UInt8] {
    let random = UInt64.random(in: 0...UInt64.max)
    return Array("<\(random).\(time(nil))@\(serverName)>".utf8)
}
