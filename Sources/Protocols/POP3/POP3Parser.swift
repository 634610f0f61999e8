/// The POP3 commands nginx's mail proxy knows before login (RFC 1939 §4,
/// RFC 2449 CAPA, RFC 5034 AUTH, RFC 2595 STLS). Anything else is invalid.
public enum POP3CommandName: String, Sendable, CaseIterable, Equatable {
    case user = "USER"
    case pass = "PASS"
    case apop = "APOP"
    case quit = "QUIT"
    case capa = "CAPA"
    case auth = "AUTH"
    case noop = "NOOP"
    case stls = "STLS"
}

public struct POP3Command: Sendable, Equatable {
    public var name: POP3CommandName
    public var arguments: [[UInt8]]

    public init(name: POP3CommandName, arguments: [[UInt8]] = []) {
        self.name = name
        self.arguments = arguments
    }
}

/// The three outcomes of parsing the front of a POP3 client's input.
public enum POP3ParseResult: Sendable, Equatable {
    case command(POP3Command, consumed: Int)
    case needMoreBytes
    /// The line through its LF is invalid; drop `consumed` bytes.
    case invalid(consumed: Int)
}

/// A pure, stateless parser of POP3 command lines as nginx reads them.
public enum POP3Parser {
    /// nginx takes at most three arguments (APOP needs two, AUTH two).
    public static let maxArguments = 3

    /// command = keyword *(SP argument) CRLF; keywords are 3-4 characters,
    /// case-insensitive (RFC 1939 §3). nginx knows only 4-letter ones and,
    /// for USER and PASS, takes the rest of the line as one argument so a
    /// user name or password may contain spaces.
    public static func parse(_ bytes: some Collection<UInt8>) -> POP3ParseResult {
        let b = Array(bytes)
        guard let lf = b.firstIndex(of: 0x0A) else { return .needMoreBytes }
        var end = lf
        if end > 0 && b[end - 1] == 0x0D { end -= 1 }
        let line = b[0..<end]
        // A CR anywhere else in the line is not a line end nginx accepts.
        guard !line.contains(0x0D) else { return .invalid(consumed: lf + 1) }

        var i = 0
        while i < line.count && isLetter(line[i]) { i += 1 }
        guard i == 4, i == line.count || line[i] == 0x20 else { return .invalid(consumed: lf + 1) }
        let upper = asciiUppercase(line[0..<4])
        guard let name = POP3CommandName(rawValue: upper) else { return .invalid(consumed: lf + 1) }

        while i < line.count && line[i] == 0x20 { i += 1 }
        var arguments: [[UInt8]] = []
        if name == .user || name == .pass {
            if i < line.count { arguments.append(Array(line[i...])) }
        } else {
            while i < line.count {
                let start = i
                while i < line.count && line[i] != 0x20 { i += 1 }
                guard arguments.count < maxArguments else { return .invalid(consumed: lf + 1) }
                arguments.append(Array(line[start..<i]))
                while i < line.count && line[i] == 0x20 { i += 1 }
            }
        }
        return .command(POP3Command(name: name, arguments: arguments), consumed: lf + 1)
    }

    private static func isLetter(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }
}
