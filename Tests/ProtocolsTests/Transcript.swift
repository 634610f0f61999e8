import Protocols
import Testing

/// Drives an IMAP session from an `S:`/`C:` transcript, in process.
///
/// Lines:
/// - `C: text`  the client sends text + CRLF; a literal `\r\n` inside the
///   text is a CRLF too (for pipelining several commands in one read).
/// - `C~ text`  the client sends text with no CRLF added.
/// - `S: text`  the server's next output bytes are text + CRLF.
/// - `AUTH: method user password`  the session asks the auth service (the
///   password may be `-` for empty); `SALT:` checks the salt.
/// - `RESULT: accepted | rejected <msg> | final <msg> | tempfail`
/// - `TLS`  the session asks for a TLS handshake; `TLSDONE` reports success.
/// - `CLOSE: reason`  the session closes (`quit`, `errors`, `toolong`,
///   `violation`, `authservice`, `other`).
/// - `# ...` comment. The first line states the property tested.
///
/// The client's bytes are fed whole, and (when `byteByByte`) one at a time.
/// The calls every pre-auth session offers; the transcript drives any of them.
protocol PreAuthSession {
    mutating func start() -> [SessionAction]
    mutating func receive(_ bytes: some Collection<UInt8>) -> [SessionAction]
    mutating func authFinished(_ result: AuthResult) -> [SessionAction]
    mutating func tlsEstablished() -> [SessionAction]
}

extension IMAPSession: PreAuthSession {}
extension POP3Session: PreAuthSession {}
extension SMTPSession: PreAuthSession {}

struct IMAPTranscript {
    enum Event: Equatable {
        case bytes([UInt8])
        case action(SessionAction)
    }

    static func run(_ script: String, settings: IMAPSessionSettings = IMAPSessionSettings(),
                    byteByByte: Bool, sourceLocation: SourceLocation = #_sourceLocation) -> IMAPSession {
        run(script, session: IMAPSession(settings: settings), byteByByte: byteByByte, sourceLocation: sourceLocation)
    }

    static func run<S: PreAuthSession>(_ script: String, session initial: S,
                                       byteByByte: Bool, sourceLocation: SourceLocation = #_sourceLocation) -> S {
        var session = initial
        var pending: [Event] = []

        func absorb(_ actions: [SessionAction]) {
            for a in actions {
                if case .send(let b) = a {
                    if case .bytes(let prev)? = pending.last {
                        pending[pending.count - 1] = .bytes(prev + b)
                    } else {
                        pending.append(.bytes(b))
                    }
                } else {
                    pending.append(.action(a))
                }
            }
        }

        func takeBytes(_ expected: [UInt8]) {
            guard case .bytes(let have)? = pending.first else {
                Issue.record("expected server bytes \(show(expected)), have \(pending.first.map(describe) ?? "nothing")",
                             sourceLocation: sourceLocation)
                return
            }
            guard have.starts(with: expected) else {
                Issue.record("expected server bytes \(show(expected)), have \(show(have))", sourceLocation: sourceLocation)
                pending.removeFirst()
                return
            }
            if have.count == expected.count { pending.removeFirst() } else { pending[0] = .bytes(Array(have.dropFirst(expected.count))) }
        }

        func takeAction(_ check: (SessionAction) -> Bool, _ what: String) {
            guard case .action(let a)? = pending.first, check(a) else {
                Issue.record("expected \(what), have \(pending.first.map(describe) ?? "nothing")", sourceLocation: sourceLocation)
                if !pending.isEmpty { pending.removeFirst() }
                return
            }
            pending.removeFirst()
        }

        absorb(session.start())
        for rawLine in script.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            if line.hasPrefix("#") || line.trimmingSpaces.isEmpty { continue }
            if line.hasPrefix("C: ") || line.hasPrefix("C~ ") {
                var text = String(line.dropFirst(3)).replacingCRLFEscapes
                if line.hasPrefix("C: ") { text += "\r\n" }
                let bytes = Array(text.utf8)
                if byteByByte {
                    for b in bytes { absorb(session.receive([b])) }
                } else {
                    absorb(session.receive(bytes))
                }
            } else if line.hasPrefix("S: ") {
                takeBytes(Array((String(line.dropFirst(3)) + "\r\n").utf8))
            } else if line.hasPrefix("AUTH: ") {
                let parts = line.dropFirst(6).split(separator: " ", maxSplits: 2).map(String.init)
                let password = parts.count > 2 && parts[2] != "-" ? parts[2] : ""
                let user = parts.count > 1 && parts[1] != "-" ? parts[1] : ""
                takeAction({
                    guard case .authenticate(let c) = $0 else { return false }
                    return c.method.rawValue == parts[0] && c.user == Array(user.utf8) && c.password == Array(password.utf8)
                }, "authenticate \(parts)")
            } else if line.hasPrefix("RESULT: ") {
                let arg = String(line.dropFirst(8))
                let result: AuthResult
                if arg == "accepted" { result = .accepted }
                else if arg == "tempfail" { result = .tempFail }
                else if arg.hasPrefix("rejected") { result = .rejected(message: arg.count > 9 ? String(arg.dropFirst(9)) : nil) }
                else { result = .rejectedFinal(message: String(arg.dropFirst(6))) }
                absorb(session.authFinished(result))
            } else if line == "TLS" {
                takeAction({ $0 == .startTLS }, "startTLS")
            } else if line == "TLSDONE" {
                absorb(session.tlsEstablished())
            } else if line.hasPrefix("CLOSE: ") {
                let want = String(line.dropFirst(7))
                takeAction({
                    guard case .close(let reason) = $0 else { return false }
                    return reasonName(reason) == want
                }, "close \(want)")
            } else {
                Issue.record("bad transcript line: \(line)", sourceLocation: sourceLocation)
            }
        }
        if !pending.isEmpty {
            Issue.record("unexpected output at end: \(pending.map(describe))", sourceLocation: sourceLocation)
        }
        return session
    }

    static func reasonName(_ r: DisconnectReason) -> String {
        switch r {
        case .clientQuit: return "quit"
        case .tooManyErrors: return "errors"
        case .lineTooLong: return "toolong"
        case .protocolViolation: return "violation"
        case .authServiceFailed: return "authservice"
        default: return "other"
        }
    }

    static func show(_ b: [UInt8]) -> String {
        String(decoding: b, as: UTF8.self).debugDescription
    }

    static func describe(_ e: Event) -> String {
        switch e {
        case .bytes(let b): return "bytes \(show(b))"
        case .action(let a): return "\(a)"
        }
    }
}

/// Runs a transcript whole and byte by byte.
func runIMAPTranscript(_ script: String, settings: IMAPSessionSettings = IMAPSessionSettings(),
                       sourceLocation: SourceLocation = #_sourceLocation) {
    _ = IMAPTranscript.run(script, settings: settings, byteByByte: false, sourceLocation: sourceLocation)
    _ = IMAPTranscript.run(script, settings: settings, byteByByte: true, sourceLocation: sourceLocation)
}

/// Runs a POP3 transcript whole and byte by byte.
func runPOP3Transcript(_ script: String, settings: POP3SessionSettings = POP3SessionSettings(),
                       sourceLocation: SourceLocation = #_sourceLocation) {
    for byByte in [false, true] {
        _ = IMAPTranscript.run(script, session: POP3Session(settings: settings), byteByByte: byByte,
                               sourceLocation: sourceLocation)
    }
}

extension String {
    var trimmingSpaces: String { String(drop(while: { $0 == " " })) }
    var replacingCRLFEscapes: String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: "\\r\\n") {
            out += rest[..<r.lowerBound]
            out += "\r\n"
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of needle: String) -> Range<Substring.Index>? {
        let n = Array(needle)
        var i = startIndex
        while i < endIndex {
            var j = i, k = 0
            while k < n.count, j < endIndex, self[j] == n[k] { j = index(after: j); k += 1 }
            if k == n.count { return i..<j }
            i = index(after: i)
        }
        return nil
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
