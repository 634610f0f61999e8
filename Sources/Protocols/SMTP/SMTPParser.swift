/// The SMTP commands nginx's mail proxy reads before relaying (RFC 5321
/// §4.1, RFC 4954 AUTH, RFC 3207 STARTTLS). Others are invalid there.
public enum SMTPCommandName: String, Sendable, CaseIterable, Equatable {
    case helo = "HELO"
    case ehlo = "EHLO"
    case quit = "QUIT"
    case auth = "AUTH"
    case noop = "NOOP"
    case mail = "MAIL"
    case rset = "RSET"
    case rcpt = "RCPT"
    case vrfy = "VRFY"
    case expn = "EXPN"
    case help = "HELP"
    case starttls = "STARTTLS"
}

public struct SMTPCommand: Sendable, Equatable {
    public var name: SMTPCommandName
    public var arguments: [[UInt8]]
    /// The command as typed, from its first byte to the end of its last
    /// argument (nginx replays MAIL FROM and RCPT TO to the backend verbatim).
    public var text: [UInt8]

    public init(name: SMTPCommandName, arguments: [[UInt8]] = [], text: [UInt8]) {
        self.name = name
        self.arguments = arguments
        self.text = text
    }
}

public enum SMTPParseResult: Sendable, Equatable {
    case command(SMTPCommand, consumed: Int)
    case needMoreBytes
    /// The line through its LF is invalid; drop `consumed` bytes.
    case invalid(consumed: Int)
}

/// A pure, stateless parser of SMTP command lines as nginx reads them.
public enum SMTPParser {
    /// nginx refuses a twelfth argument.
    public static let maxArguments = 11

    /// command = verb *(SP argument) CRLF  (RFC 5321 §4.1.1; verbs are
    /// case-insensitive). Arguments are split at spaces, as nginx does.
    public static func parse(_ bytes: some Collection<UInt8>) -> SMTPParseResult {
        let b = Array(bytes)
        guard let lf = b.firstIndex(of: 0x0A) else { return .needMoreBytes }
        var end = lf
        if end > 0 && b[end - 1] == 0x0D { end -= 1 }
        let line = b[0..<end]
        guard !line.contains(0x0D) else { return .invalid(consumed: lf + 1) }

        var i = 0
        while i < line.count && isLetter(line[i]) { i += 1 }
        guard i == line.count || line[i] == 0x20 else { return .invalid(consumed: lf + 1) }
        let verb = asciiUppercase(line[0..<i])
        guard i == 4 || i == 8, let name = SMTPCommandName(rawValue: verb) else { return .invalid(consumed: lf + 1) }

        var arguments: [[UInt8]] = []
        var textEnd = i
        while i < line.count {
            while i < line.count && line[i] == 0x20 { i += 1 }
            guard i < line.count else { break }
            guard arguments.count < maxArguments else { return .invalid(consumed: lf + 1) }
            let start = i
            while i < line.count && line[i] != 0x20 { i += 1 }
            arguments.append(Array(line[start..<i]))
            textEnd = i
        }
        return .command(SMTPCommand(name: name, arguments: arguments, text: Array(line[0..<textEnd])),
                        consumed: lf + 1)
    }

    private static func isLetter(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }
}
