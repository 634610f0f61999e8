import Protocols
import Testing

/// One parser fixture: an input and what parsing its front must give.
struct ParseFixture: Sendable, CustomTestStringConvertible {
    enum Expected: Sendable {
        case success(IMAPCommand, consumed: Int? = nil)
        case needMoreBytes(literals: Int)
        case failure(IMAPParseError, tag: String?, mustClose: Bool = false, literals: Int = 0)
    }

    var input: [UInt8]
    var expected: Expected

    init(_ input: String, _ expected: Expected) {
        self.input = Array(input.utf8)
        self.expected = expected
    }

    init(bytes: [UInt8], _ expected: Expected) {
        self.input = bytes
        self.expected = expected
    }

    var testDescription: String { String(decoding: input, as: UTF8.self).debugDescription }

    var expectedResult: IMAPParseResult {
        switch expected {
        case .success(let command, let consumed):
            return .command(command, consumed: consumed ?? input.count)
        case .needMoreBytes(let n):
            return .needMoreBytes(synchronizingLiterals: n)
        case .failure(let error, let tag, let mustClose, let literals):
            return .invalid(IMAPParseFailure(error: error, tag: tag.map { Array($0.utf8) },
                                             synchronizingLiterals: literals, mustClose: mustClose),
                            consumed: input.count)
        }
    }
}

private func cmd(_ tag: String, _ name: IMAPCommandName, _ args: [String] = [], sync: Int = 0) -> IMAPCommand {
    IMAPCommand(tag: Array(tag.utf8), name: name, arguments: args.map { Array($0.utf8) }, synchronizingLiterals: sync)
}

let imapParseFixtures: [ParseFixture] = [
    // Simple commands, any case, CRLF or bare LF.
    ParseFixture("a1 NOOP\r\n", .success(cmd("a1", .noop))),
    ParseFixture("a1 noop\n", .success(cmd("a1", .noop))),
    ParseFixture("A.b-c_9 CaPaBiLiTy\r\n", .success(cmd("A.b-c_9", .capability))),
    ParseFixture("x LOGOUT\r\n", .success(cmd("x", .logout))),
    ParseFixture("x STARTTLS\r\n", .success(cmd("x", .starttls))),
    ParseFixture("a1  NOOP   \r\n", .success(cmd("a1", .noop))),
    // LOGIN with atoms, quoted strings, escapes and literals.
    ParseFixture("a1 LOGIN bob secret\r\n", .success(cmd("a1", .login, ["bob", "secret"]))),
    ParseFixture("a1 LOGIN \"bob smith\" \"se\\\"cr\\\\et\"\r\n",
                 .success(cmd("a1", .login, ["bob smith", "se\"cr\\et"]))),
    ParseFixture("a1 LOGIN \"\" \"\"\r\n", .success(cmd("a1", .login, ["", ""]))),
    ParseFixture("a1 LOGIN {3}\r\nbob {6}\r\nsecret\r\n", .success(cmd("a1", .login, ["bob", "secret"], sync: 2))),
    ParseFixture("a1 LOGIN {3+}\r\nbob {6+}\r\nsecret\r\n", .success(cmd("a1", .login, ["bob", "secret"]))),
    ParseFixture("a1 LOGIN {5}\r\nb\r\n\"b {0}\r\n\r\n", .success(cmd("a1", .login, ["b\r\n\"b", ""], sync: 2))),
    ParseFixture("a1 LOGIN {3}\nbob x\r\n", .success(cmd("a1", .login, ["bob", "x"], sync: 1))),
    ParseFixture("a1 LOGIN bo\"b x\r\n", .success(cmd("a1", .login, ["bo\"b", "x"]))),
    // AUTHENTICATE with and without initial response.
    ParseFixture("a2 AUTHENTICATE PLAIN\r\n", .success(cmd("a2", .authenticate, ["PLAIN"]))),
    ParseFixture("a2 authenticate plain AGJvYgBzZWNyZXQ=\r\n",
                 .success(cmd("a2", .authenticate, ["plain", "AGJvYgBzZWNyZXQ="]))),
    // Pipelined: only the first command is consumed.
    ParseFixture("a1 NOOP\r\na2 NOOP\r\n", .success(cmd("a1", .noop), consumed: 9)),
    // Incomplete input.
    ParseFixture("a1 NOO", .needMoreBytes(literals: 0)),
    ParseFixture("a1 NOOP\r", .needMoreBytes(literals: 0)),
    ParseFixture("a1 LOGIN {3}\r\n", .needMoreBytes(literals: 1)),
    ParseFixture("a1 LOGIN {3}\r\nbo", .needMoreBytes(literals: 1)),
    ParseFixture("a1 LOGIN {3}\r\nbob {6}\r\n", .needMoreBytes(literals: 2)),
    ParseFixture("a1 LOGIN {3+}\r\nbo", .needMoreBytes(literals: 0)),
    ParseFixture("a1 LOGIN \"bob", .needMoreBytes(literals: 0)),
    ParseFixture("a1 BOGUS", .needMoreBytes(literals: 0)),
    // Invalid lines, skipped through their LF.
    ParseFixture("\r\n", .failure(.invalidTag, tag: nil)),
    ParseFixture(" NOOP\r\n", .failure(.invalidTag, tag: nil)),
    ParseFixture("a+1 NOOP\r\n", .failure(.invalidTag, tag: nil)),
    ParseFixture("a1\r\n", .failure(.invalidTag, tag: nil)),
    ParseFixture(String(repeating: "t", count: 33) + " NOOP\r\n", .failure(.invalidTag, tag: nil)),
    ParseFixture(String(repeating: "t", count: 32) + " NOOP\r\n",
                 .success(cmd(String(repeating: "t", count: 32), .noop))),
    ParseFixture("a1 \r\n", .failure(.invalidCommandName, tag: "a1")),
    ParseFixture("a1 SELECT inbox\r\n", .failure(.unknownCommand, tag: "a1")),
    ParseFixture("a1 NO0P\r\n", .failure(.invalidCommandName, tag: "a1")),
    ParseFixture("a1 NOOP\rX\r\n", .failure(.invalidLineEnd, tag: "a1")),
    ParseFixture("a1 LOGIN a b c d\r\n", .failure(.tooManyArguments, tag: "a1")),
    ParseFixture("a1 LOGIN \"bob\r\n", .failure(.invalidQuotedString, tag: "a1")),
    ParseFixture("a1 LOGIN \"bob\"x y\r\n", .failure(.invalidQuotedString, tag: "a1")),
    ParseFixture("a1 LOGIN {x}\r\n", .failure(.invalidLiteral, tag: "a1")),
    ParseFixture("a1 LOGIN {}\r\n", .failure(.invalidLiteral, tag: "a1")),
    ParseFixture("a1 LOGIN {3}x\r\n", .failure(.invalidLiteral, tag: "a1")),
    ParseFixture("a1 LOGIN {99999999999}\r\n", .failure(.invalidLiteral, tag: "a1")),
    ParseFixture("a1 LOGIN {3}\r\nbobx y\r\n", .failure(.invalidQuotedString, tag: "a1", literals: 1)),
    // An invalid line ending in a non-synchronizing literal closes the session (nginx).
    ParseFixture("a1 SELECT {5+}\r\n", .failure(.unknownCommand, tag: "a1", mustClose: true)),
]

@Suite struct IMAPParserTests {
    /// Each fixture parses to its expected result when fed whole.
    @Test(arguments: imapParseFixtures)
    func whole(_ fixture: ParseFixture) {
        #expect(IMAPParser.parse(fixture.input) == fixture.expectedResult)
    }

    /// Fed one byte at a time, every proper prefix needs more bytes (with a
    /// non-decreasing literal count), and the whole agrees with the first pass.
    @Test(arguments: imapParseFixtures)
    func byteByByte(_ fixture: ParseFixture) {
        let final = IMAPParser.parse(fixture.input)
        let boundary: Int
        switch final {
        case .command(_, let consumed), .invalid(_, let consumed): boundary = consumed
        case .needMoreBytes: boundary = fixture.input.count + 1
        }
        var lastLiterals = 0
        for n in 0..<min(boundary, fixture.input.count + 1) {
            let result = IMAPParser.parse(fixture.input.prefix(n))
            guard case .needMoreBytes(let literals) = result else {
                Issue.record("prefix of \(n) bytes gave \(result)")
                return
            }
            #expect(literals >= lastLiterals)
            lastLiterals = literals
        }
        #expect(final == fixture.expectedResult)
    }

    /// Split at every CR and LF, the parts joined give the same result as the whole.
    @Test(arguments: imapParseFixtures)
    func splitAtLineBreaks(_ fixture: ParseFixture) {
        for (i, b) in fixture.input.enumerated() where b == 0x0D || b == 0x0A {
            var buffer = Array(fixture.input.prefix(i))
            _ = IMAPParser.parse(buffer)
            buffer += fixture.input.dropFirst(i)
            #expect(IMAPParser.parse(buffer) == fixture.expectedResult)
        }
    }

    /// The tag of a partial line is found once it and its space have arrived.
    @Test func tagOfPartialLine() {
        #expect(IMAPParser.tag(in: bytes("a1 LOGIN {9999}")) == bytes("a1"))
        #expect(IMAPParser.tag(in: bytes("a1")) == nil)
        #expect(IMAPParser.tag(in: bytes("a!1 x")) == nil)
    }

    /// Any byte but SP, CR and LF goes through an atom or literal unchanged.
    @Test func binaryLiteral() {
        let data: [UInt8] = [0, 1, 0xFF, 0x22, 0x5C, 0x7B, 0x0D, 0x0A]
        let input = bytes("t LOGIN {8+}\r\n") + data + bytes(" p\r\n")
        #expect(IMAPParser.parse(input) == .command(
            IMAPCommand(tag: bytes("t"), name: .login, arguments: [data, bytes("p")]), consumed: input.count))
    }
}
