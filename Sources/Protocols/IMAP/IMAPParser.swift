/// The IMAP commands a not-yet-authenticated client may send to nginx's mail
/// proxy (RFC 3501 §6.1, §6.2). Anything else is an invalid command there.
public enum IMAPCommandName: String, Sendable, CaseIterable, Equatable {
    case capability = "CAPABILITY"
    case noop = "NOOP"
    case logout = "LOGOUT"
    case login = "LOGIN"
    case authenticate = "AUTHENTICATE"
    case starttls = "STARTTLS"
}

/// One parsed client command line.
public struct IMAPCommand: Sendable, Equatable {
    /// The tag, without the space after it.
    public var tag: [UInt8]
    public var name: IMAPCommandName
    /// Atoms, quoted strings (unescaped) and literals (their data), in order.
    public var arguments: [[UInt8]]
    /// How many synchronizing literals (`{n}`) the command holds: the server
    /// owes the client one continuation request for each.
    public var synchronizingLiterals: Int

    public init(tag: [UInt8], name: IMAPCommandName, arguments: [[UInt8]] = [], synchronizingLiterals: Int = 0) {
        self.tag = tag
        self.name = name
        self.arguments = arguments
        self.synchronizingLiterals = synchronizingLiterals
    }
}

/// Why a command line was refused. Every kind earns "BAD invalid command".
public enum IMAPParseError: String, Sendable, Equatable {
    case invalidTag
    case invalidCommandName
    case unknownCommand
    case tooManyArguments
    case invalidQuotedString
    case invalidLiteral
    case invalidLineEnd
}

/// A refused line: what to answer and whether the session can go on.
public struct IMAPParseFailure: Sendable, Equatable {
    public var error: IMAPParseError
    /// The tag when it was read in full before the error, else nil ("*").
    public var tag: [UInt8]?
    /// Synchronizing literals announced before the error (each was owed a
    /// continuation request before the error was found).
    public var synchronizingLiterals: Int
    /// True when the line ends in a non-synchronizing literal `{n+}`: its data
    /// follows at once and nothing tells where the next command starts, so
    /// nginx closes the session after the reply.
    public var mustClose: Bool

    public init(error: IMAPParseError, tag: [UInt8]?, synchronizingLiterals: Int = 0, mustClose: Bool = false) {
        self.error = error
        self.tag = tag
        self.synchronizingLiterals = synchronizingLiterals
        self.mustClose = mustClose
    }
}

/// The three outcomes of parsing the front of a client's input.
public enum IMAPParseResult: Sendable, Equatable {
    /// A whole command; drop `consumed` bytes from the front of the input.
    case command(IMAPCommand, consumed: Int)
    /// The input ends inside a command. `synchronizingLiterals` counts the
    /// `{n}` headers already complete: each needs a continuation request
    /// ("+ OK") before a well-behaved client sends the literal's data.
    case needMoreBytes(synchronizingLiterals: Int)
    /// The line up to and including its LF is invalid; drop `consumed` bytes.
    case invalid(IMAPParseFailure, consumed: Int)
}

/// A pure parser of IMAP command lines as nginx's mail proxy accepts them.
///
/// It is stateless: it parses from the first byte every time, so input split
/// at any byte gives the same result as input in one piece. nginx's own
/// leniencies are kept where clients depend on them (several spaces between
/// tokens, an LF without CR, any byte but SP/CR/LF in an atom, any escaped
/// character in a quoted string); where nginx is loose in a way no client
/// needs, this parser is strict and says so below.
public enum IMAPParser {
    /// RFC 3501 §9 limits nothing here; nginx refuses tags over 32 bytes and
    /// more than three arguments, which is plenty for LOGIN and AUTHENTICATE.
    public static let maxTagLength = 32
    public static let maxArguments = 3
    /// A literal longer than this can never fit a client buffer; refusing it
    /// up front also keeps the length arithmetic far from overflow.
    public static let maxLiteralLength = 1 << 30

    private static let sp = UInt8(ascii: " ")
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    private static let dquote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    /// Outcome of one step of the grammar below: a value and the next index,
    /// input exhausted, or an error at an index (from which the line is skipped).
    private enum Step<T> {
        case ok(T, Int)
        case more
        case error(IMAPParseError, at: Int)
    }

    /// command = tag SP (command-any / command-auth / command-nonauth /
    ///           command-select) CRLF                                  ; RFC 3501 §9
    ///
    /// Parses the command at the front of `bytes`.
    public static func parse(_ bytes: some Collection<UInt8>) -> IMAPParseResult {
        let b = Array(bytes)
        var syncLiterals = 0
        var tag: [UInt8]? = nil

        func fail(_ error: IMAPParseError, at index: Int) -> IMAPParseResult {
            skipLine(b, from: index, failure: IMAPParseFailure(
                error: error, tag: tag, synchronizingLiterals: syncLiterals))
        }

        var i: Int
        switch parseTag(b) {
        case .more: return .needMoreBytes(synchronizingLiterals: 0)
        case .error(let e, let at): return fail(e, at: at)
        case .ok(let t, let next): tag = t; i = next
        }

        let name: IMAPCommandName
        switch parseCommandName(b, from: i) {
        case .more: return .needMoreBytes(synchronizingLiterals: 0)
        case .error(let e, let at): return fail(e, at: at)
        case .ok(let n, let next): name = n; i = next
        }

        var arguments: [[UInt8]] = []
        // After the command name or an argument: SP, CRLF or LF must follow.
        while true {
            guard i < b.count else { return .needMoreBytes(synchronizingLiterals: syncLiterals) }
            switch b[i] {
            case lf:
                return .command(IMAPCommand(tag: tag ?? [], name: name, arguments: arguments,
                                            synchronizingLiterals: syncLiterals), consumed: i + 1)
            case cr:
                guard i + 1 < b.count else { return .needMoreBytes(synchronizingLiterals: syncLiterals) }
                guard b[i + 1] == lf else { return fail(.invalidLineEnd, at: i + 1) }
                return .command(IMAPCommand(tag: tag ?? [], name: name, arguments: arguments,
                                            synchronizingLiterals: syncLiterals), consumed: i + 2)
            case sp:
                while i < b.count && b[i] == sp { i += 1 }
                guard i < b.count else { return .needMoreBytes(synchronizingLiterals: syncLiterals) }
                if b[i] == cr || b[i] == lf { continue }
                guard arguments.count < maxArguments else { return fail(.tooManyArguments, at: i) }
                switch parseArgument(b, from: i) {
                case .more: return .needMoreBytes(synchronizingLiterals: syncLiterals + pendingSyncLiteral(b, from: i))
                case .error(let e, let at): return fail(e, at: at)
                case .ok(let (value, isSyncLiteral), let next):
                    arguments.append(value)
                    if isSyncLiteral { syncLiterals += 1 }
                    i = next
                }
            default:
                // Only reachable after a quoted string or literal: "a"b is
                // one more argument to nginx; RFC 3501 wants SP, and so do we.
                return fail(.invalidQuotedString, at: i)
            }
        }
    }

    /// The tag at the front of `bytes` when it is complete and valid (for the
    /// reply to a line that turned out too long), else nil.
    public static func tag(in bytes: some Collection<UInt8>) -> [UInt8]? {
        if case .ok(let t, _) = parseTag(Array(bytes)) { return t }
        return nil
    }

    /// tag = 1*<any ASTRING-CHAR except "+">                     ; RFC 3501 §9
    ///
    /// nginx narrows this to letters, digits, "-", "." and "_", at most 32.
    /// nginx takes a line starting with SP as having an empty tag; RFC 3501
    /// needs one character, and so do we.
    private static func parseTag(_ b: [UInt8]) -> Step<[UInt8]> {
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == sp {
                guard i > 0 else { return .error(.invalidTag, at: i) }
                return .ok(Array(b[0..<i]), i + 1)
            }
            guard isTagChar(c), i < maxTagLength else { return .error(.invalidTag, at: i) }
            i += 1
        }
        return .more
    }

    /// command names are atoms; nginx knows only the six pre-auth ones,
    /// compared without regard to case (RFC 3501 §9: "case-insensitive").
    private static func parseCommandName(_ b: [UInt8], from start: Int) -> Step<IMAPCommandName> {
        var i = start
        while i < b.count && b[i] == sp { i += 1 }
        guard i < b.count else { return .more }
        let nameStart = i
        while i < b.count {
            let c = b[i]
            if c == sp || c == cr || c == lf { break }
            guard isLetter(c) else { return .error(.invalidCommandName, at: i) }
            i += 1
        }
        guard i < b.count else { return .more }
        guard i > nameStart else { return .error(.invalidCommandName, at: i) }
        let upper = asciiUppercase(b[nameStart..<i])
        guard let name = IMAPCommandName(rawValue: upper) else { return .error(.unknownCommand, at: i) }
        return .ok(name, i)
    }

    /// astring = 1*ASTRING-CHAR / string;  string = quoted / literal ; RFC 3501 §9
    ///
    /// Returns the argument and whether it was a synchronizing literal.
    private static func parseArgument(_ b: [UInt8], from i: Int) -> Step<([UInt8], Bool)> {
        switch b[i] {
        case dquote:
            switch parseQuoted(b, from: i) {
            case .ok(let v, let next): return .ok((v, false), next)
            case .more: return .more
            case .error(let e, let at): return .error(e, at: at)
            }
        case UInt8(ascii: "{"):
            return parseLiteral(b, from: i)
        default:
            var j = i
            while j < b.count && b[j] != sp && b[j] != cr && b[j] != lf { j += 1 }
            guard j < b.count else { return .more }
            return .ok((Array(b[i..<j]), false), j)
        }
    }

    /// quoted = DQUOTE *QUOTED-CHAR DQUOTE
    /// QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials
    ///                                                            ; RFC 3501 §9
    /// Like nginx, a backslash escapes any character (not only `"` and `\`).
    /// Unlike nginx, CR or LF inside the quotes is an error: nginx ends the
    /// argument there, which hides an unterminated string.
    private static func parseQuoted(_ b: [UInt8], from start: Int) -> Step<[UInt8]> {
        var value: [UInt8] = []
        var i = start + 1
        while i < b.count {
            let c = b[i]
            switch c {
            case dquote:
                return .ok(value, i + 1)
            case backslash:
                guard i + 1 < b.count else { return .more }
                let escaped = b[i + 1]
                guard escaped != cr && escaped != lf else { return .error(.invalidQuotedString, at: i + 1) }
                value.append(escaped)
                i += 2
            case cr, lf:
                return .error(.invalidQuotedString, at: i)
            default:
                value.append(c)
                i += 1
            }
        }
        return .more
    }

    /// literal = "{" number ["+"] "}" CRLF *CHAR8       ; RFC 3501 §9, RFC 7888 §3
    ///
    /// nginx also takes a bare LF after "}" and we keep that. It reads `{}`
    /// and `{0}` as a one-byte literal; we need a digit and read `{0}` as empty.
    private static func parseLiteral(_ b: [UInt8], from start: Int) -> Step<([UInt8], Bool)> {
        var i = start + 1
        var length = 0
        var digits = 0
        while i < b.count, isDigit(b[i]) {
            length = length * 10 + Int(b[i] - UInt8(ascii: "0"))
            digits += 1
            guard length <= maxLiteralLength else { return .error(.invalidLiteral, at: i) }
            i += 1
        }
        guard i < b.count else { return .more }
        guard digits > 0 else { return .error(.invalidLiteral, at: i) }
        var synchronizing = true
        if b[i] == UInt8(ascii: "+") {
            synchronizing = false
            i += 1
            guard i < b.count else { return .more }
        }
        guard b[i] == UInt8(ascii: "}") else { return .error(.invalidLiteral, at: i) }
        i += 1
        guard i < b.count else { return .more }
        if b[i] == cr {
            i += 1
            guard i < b.count else { return .more }
        }
        guard b[i] == lf else { return .error(.invalidLiteral, at: i) }
        i += 1
        guard b.count - i >= length else { return .more }
        return .ok((Array(b[i..<(i + length)]), synchronizing), i + length)
    }

    /// 1 when the argument at `start` is a synchronizing literal whose header
    /// (through its LF) is complete but whose data is not; 0 otherwise.
    private static func pendingSyncLiteral(_ b: [UInt8], from start: Int) -> Int {
        guard start < b.count, b[start] == UInt8(ascii: "{") else { return 0 }
        var i = start + 1
        while i < b.count, isDigit(b[i]) { i += 1 }
        guard i > start + 1, i + 1 < b.count, b[i] == UInt8(ascii: "}") else { return 0 }
        i += 1
        if b[i] == cr { i += 1 }
        return i < b.count && b[i] == lf ? 1 : 0
    }

    /// nginx skips an invalid command through its LF; if the line ends in a
    /// non-synchronizing literal header, the literal's data is already on
    /// its way and cannot be told from commands, so nginx gives up on the
    /// session.
    private static func skipLine(_ b: [UInt8], from index: Int, failure: IMAPParseFailure) -> IMAPParseResult {
        var i = index
        while i < b.count && b[i] != lf { i += 1 }
        guard i < b.count else { return .needMoreBytes(synchronizingLiterals: failure.synchronizingLiterals) }
        var f = failure
        var end = i
        if end > 0 && b[end - 1] == cr { end -= 1 }
        if end >= 2 && b[end - 1] == UInt8(ascii: "}") && b[end - 2] == UInt8(ascii: "+") {
            f.mustClose = true
        }
        return .invalid(f, consumed: i + 1)
    }

    private static func isTagChar(_ c: UInt8) -> Bool {
        isLetter(c) || isDigit(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
    }

    private static func isLetter(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
    }

    private static func isDigit(_ c: UInt8) -> Bool {
        c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
    }
}
