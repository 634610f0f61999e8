/// One step of nginx's tokenizer (`ngx_conf_read_token`): a statement ended
/// by `;` or `{`, a closing `}`, the end of input, or a syntax error.
enum ConfigToken: Equatable {
    case statement(words: [String], opensBlock: Bool, line: Int)
    case blockEnd(line: Int)
    case end(line: Int)
    case error(String, line: Int)
}

/// Splits nginx configuration text into statements, byte for byte as
/// `ngx_conf_read_token` does: words end at blanks, `;` or `{`; quotes
/// group; a backslash protects the next byte; `#` comments run to LF;
/// `${` inside a word does not open a block. The line of each result is the
/// line the terminating byte sits on, which is the line nginx reports.
struct ConfigLexer {
    private let bytes: [UInt8]
    private var pos = 0
    private(set) var line = 1
    /// True for `-g` text: nginx words end-of-input errors differently there.
    private let isCommandLine: Bool

    /// nginx's NGX_CONF_BUFFER: a single word may not exceed it.
    static let maxWordLength = 4096

    init(bytes: [UInt8], isCommandLine: Bool = false) {
        self.bytes = bytes
        self.isCommandLine = isCommandLine
    }

    private static let space: UInt8 = 0x20, tab: UInt8 = 0x09, cr: UInt8 = 0x0D, lf: UInt8 = 0x0A
    private static let semicolon = UInt8(ascii: ";"), openBrace = UInt8(ascii: "{")
    private static let closeBrace = UInt8(ascii: "}"), hash = UInt8(ascii: "#")
    private static let backslash = UInt8(ascii: "\\"), dquote = UInt8(ascii: "\"")
    private static let squote = UInt8(ascii: "'"), dollar = UInt8(ascii: "$")
    private static let closeParen = UInt8(ascii: ")")

    private static func isBlank(_ c: UInt8) -> Bool { c == space || c == tab || c == cr || c == lf }

    mutating func next() -> ConfigToken {
        var words: [String] = []
        var needSpace = false, lastSpace = true, sharpComment = false
        var variable = false, quoted = false, sQuoted = false, dQuoted = false
        var start = pos, startLine = line

        while true {
            if pos >= bytes.count {
                if !words.isEmpty || !lastSpace {
                    if isCommandLine {
                        return .error("unexpected end of parameter, expecting \";\"", line: line)
                    }
                    return .error("unexpected end of file, expecting \";\" or \"}\"", line: line)
                }
                return .end(line: line)
            }
            if !lastSpace && pos - start >= Self.maxWordLength {
                if dQuoted || sQuoted {
                    let q = dQuoted ? "\"" : "'"
                    return .error("too long parameter, probably missing terminating \"\(q)\" character", line: startLine)
                }
                let head = String(decoding: bytes[start..<start + 10], as: UTF8.self)
                return .error("too long parameter \"\(head)...\" started", line: startLine)
            }

            let ch = bytes[pos]
            pos += 1
            if ch == Self.lf {
                line += 1
                sharpComment = false
            }
            if sharpComment { continue }
            if quoted { quoted = false; continue }

            if needSpace {
                if Self.isBlank(ch) { lastSpace = true; needSpace = false; continue }
                if ch == Self.semicolon { return .statement(words: words, opensBlock: false, line: line) }
                if ch == Self.openBrace { return .statement(words: words, opensBlock: true, line: line) }
                if ch == Self.closeParen {
                    lastSpace = true
                    needSpace = false
                } else {
                    return .error("unexpected \"\(Character(Unicode.Scalar(ch)))\"", line: line)
                }
            }

            if lastSpace {
                start = pos - 1
                startLine = line
                if Self.isBlank(ch) { continue }
                switch ch {
                case Self.semicolon, Self.openBrace:
                    if words.isEmpty {
                        return .error("unexpected \"\(Character(Unicode.Scalar(ch)))\"", line: line)
                    }
                    return .statement(words: words, opensBlock: ch == Self.openBrace, line: line)
                case Self.closeBrace:
                    if !words.isEmpty { return .error("unexpected \"}\"", line: line) }
                    return .blockEnd(line: line)
                case Self.hash:
                    sharpComment = true
                    continue
                case Self.backslash:
                    quoted = true
                    lastSpace = false
                    continue
                case Self.dquote:
                    start += 1
                    dQuoted = true
                    lastSpace = false
                    continue
                case Self.squote:
                    start += 1
                    sQuoted = true
                    lastSpace = false
                    continue
                case Self.dollar:
                    variable = true
                    lastSpace = false
                    continue
                default:
                    lastSpace = false
                }
            } else {
                if ch == Self.openBrace && variable { continue }
                variable = false
                if ch == Self.backslash { quoted = true; continue }
                if ch == Self.dollar { variable = true; continue }

                var found = false
                if dQuoted {
                    if ch == Self.dquote { dQuoted = false; needSpace = true; found = true }
                } else if sQuoted {
                    if ch == Self.squote { sQuoted = false; needSpace = true; found = true }
                } else if Self.isBlank(ch) || ch == Self.semicolon || ch == Self.openBrace {
                    lastSpace = true
                    found = true
                }
                if found {
                    words.append(Self.unescape(bytes[start..<(pos - 1)]))
                    if ch == Self.semicolon { return .statement(words: words, opensBlock: false, line: line) }
                    if ch == Self.openBrace { return .statement(words: words, opensBlock: true, line: line) }
                }
            }
        }
    }

    /// nginx turns `\"`, `\'`, `\\` into the character and `\t`, `\r`, `\n`
    /// into control bytes; any other backslash stays as written.
    static func unescape(_ raw: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i < raw.endIndex {
            let c = raw[i]
            if c == backslash, i + 1 < raw.endIndex {
                switch raw[i + 1] {
                case dquote, squote, backslash:
                    out.append(raw[i + 1]); i += 2; continue
                case UInt8(ascii: "t"): out.append(tab); i += 2; continue
                case UInt8(ascii: "r"): out.append(cr); i += 2; continue
                case UInt8(ascii: "n"): out.append(lf); i += 2; continue
                default: break
                }
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
