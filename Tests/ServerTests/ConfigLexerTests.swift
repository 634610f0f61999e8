import Testing
@testable import Server

/// Runs the lexer to the end, collecting every token.
private func tokens(_ text: String, commandLine: Bool = false) -> [ConfigToken] {
    var lexer = ConfigLexer(bytes: Array(text.utf8), isCommandLine: commandLine)
    var out: [ConfigToken] = []
    for _ in 0..<1000 {
        let t = lexer.next()
        out.append(t)
        switch t {
        case .end, .error: return out
        default: continue
        }
    }
    return out
}

struct LexerFixture: Sendable, CustomStringConvertible {
    let input: String
    let expected: [ConfigToken]
    var description: String { input }
}

let lexerFixtures: [LexerFixture] = [
    LexerFixture(input: "a b c;", expected: [.statement(words: ["a", "b", "c"], opensBlock: false, line: 1), .end(line: 1)]),
    LexerFixture(input: "mail {\n}\n", expected: [.statement(words: ["mail"], opensBlock: true, line: 1), .blockEnd(line: 2), .end(line: 3)]),
    LexerFixture(input: "a \"b c\" 'd e';", expected: [.statement(words: ["a", "b c", "d e"], opensBlock: false, line: 1), .end(line: 1)]),
    LexerFixture(input: #"a "x\"y" 'p\'q' "t\tr\rn\n" "s\\l";"#,
                 expected: [.statement(words: ["a", "x\"y", "p'q", "t\tr\rn\n", "s\\l"], opensBlock: false, line: 1), .end(line: 1)]),
    // A backslash before any other character is kept, as nginx does.
    LexerFixture(input: #"a "\d";"#, expected: [.statement(words: ["a", "\\d"], opensBlock: false, line: 1), .end(line: 1)]),
    LexerFixture(input: #"a b\ c;"#, expected: [.statement(words: ["a", "b\\ c"], opensBlock: false, line: 1), .end(line: 1)]),
    LexerFixture(input: "# comment ; {\na 1; # trailing\n", expected: [.statement(words: ["a", "1"], opensBlock: false, line: 2), .end(line: 3)]),
    LexerFixture(input: "a b#c;", expected: [.statement(words: ["a", "b#c"], opensBlock: false, line: 1), .end(line: 1)]),
    LexerFixture(input: "a\n  b\n;", expected: [.statement(words: ["a", "b"], opensBlock: false, line: 3), .end(line: 3)]),
    LexerFixture(input: "a ${b}c;", expected: [.statement(words: ["a", "${b}c"], opensBlock: false, line: 1), .end(line: 1)]),
    LexerFixture(input: "a \"\";", expected: [.statement(words: ["a", ""], opensBlock: false, line: 1), .end(line: 1)]),
    LexerFixture(input: "a 1", expected: [.error("unexpected end of file, expecting \";\" or \"}\"", line: 1)]),
    LexerFixture(input: "a \"1;\n", expected: [.error("unexpected end of file, expecting \";\" or \"}\"", line: 2)]),
    LexerFixture(input: ";", expected: [.error("unexpected \";\"", line: 1)]),
    LexerFixture(input: "{", expected: [.error("unexpected \"{\"", line: 1)]),
    LexerFixture(input: "a }", expected: [.error("unexpected \"}\"", line: 1)]),
    LexerFixture(input: "a \"b\"c;", expected: [.error("unexpected \"c\"", line: 1)]),
]

/// Each fixture tokenizes exactly as nginx's ngx_conf_read_token would.
@Test(arguments: lexerFixtures)
func lexerFixture(_ fixture: LexerFixture) {
    #expect(tokens(fixture.input) == fixture.expected)
}

/// In -g text an unterminated statement is "unexpected end of parameter".
@Test func lexerCommandLineEnd() {
    #expect(tokens("daemon off", commandLine: true) == [.error("unexpected end of parameter, expecting \";\"", line: 1)])
}

/// A word longer than nginx's 4096-byte buffer is refused with its first ten bytes.
@Test func lexerTooLongWord() {
    let long = String(repeating: "x", count: 5000)
    #expect(tokens("a \(long);") == [.error("too long parameter \"xxxxxxxxxx...\" started", line: 1)])
    #expect(tokens("a \"\(long);") == [.error("too long parameter, probably missing terminating \"\"\" character", line: 1)])
}

/// CRLF line ends count lines once and separate words.
@Test func lexerCRLF() {
    #expect(tokens("a 1;\r\nb 2;\r\n") == [
        .statement(words: ["a", "1"], opensBlock: false, line: 1),
        .statement(words: ["b", "2"], opensBlock: false, line: 2),
        .end(line: 3),
    ])
}

/// Arbitrary bytes never crash or hang the parser: it ends with a result.
@Test func parserSurvivesNoise() {
    var generator = SystemRandomNumberGenerator()
    let alphabet = Array("ab ;{}\"'\\#$\n\tmailserverlisten1:".utf8)
    for _ in 0..<300 {
        let n = Int.random(in: 0..<200, using: &generator)
        let bytes = (0..<n).map { _ in alphabet.randomElement(using: &generator)! }
        let text = String(decoding: bytes, as: UTF8.self)
        _ = parseTestConfig(text)
    }
}
