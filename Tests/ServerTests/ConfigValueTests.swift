import Testing
@testable import Server

struct SizeCase: Sendable, CustomStringConvertible {
    let text: String
    let size: Int?
    let offset: Int?
    var description: String { text }
}

/// Sizes per ngx_parse_size (k, m) and ngx_parse_offset (also g).
@Test(arguments: [
    SizeCase(text: "0", size: 0, offset: 0),
    SizeCase(text: "4096", size: 4096, offset: 4096),
    SizeCase(text: "4k", size: 4096, offset: 4096),
    SizeCase(text: "4K", size: 4096, offset: 4096),
    SizeCase(text: "1m", size: 1 << 20, offset: 1 << 20),
    SizeCase(text: "2M", size: 2 << 20, offset: 2 << 20),
    SizeCase(text: "1g", size: nil, offset: 1 << 30),
    SizeCase(text: "", size: nil, offset: nil),
    SizeCase(text: "k", size: nil, offset: nil),
    SizeCase(text: "-1", size: nil, offset: nil),
    SizeCase(text: "1.5k", size: nil, offset: nil),
    SizeCase(text: "1kb", size: nil, offset: nil),
    SizeCase(text: "99999999999999999999", size: nil, offset: nil),
])
func sizeParsing(_ c: SizeCase) {
    #expect(ConfigValueParser.size(c.text) == c.size)
    #expect(ConfigValueParser.offset(c.text) == c.offset)
}

struct TimeCase: Sendable, CustomStringConvertible {
    let text: String
    let msec: Int64?
    let sec: Int64?
    var description: String { text }
}

/// Times per ngx_parse_time: units in descending order, ms only in msec
/// slots, y and M only in second slots.
@Test(arguments: [
    TimeCase(text: "60", msec: 60_000, sec: 60),
    TimeCase(text: "60s", msec: 60_000, sec: 60),
    TimeCase(text: "500ms", msec: 500, sec: nil),
    TimeCase(text: "5m", msec: 300_000, sec: 300),
    TimeCase(text: "1h30m", msec: 5_400_000, sec: 5400),
    TimeCase(text: "1h 30m", msec: 5_400_000, sec: 5400),
    TimeCase(text: "1d", msec: 86_400_000, sec: 86400),
    TimeCase(text: "2w", msec: 1_209_600_000, sec: 1_209_600),
    TimeCase(text: "1M", msec: nil, sec: 2_592_000),
    TimeCase(text: "1y", msec: nil, sec: 31_536_000),
    TimeCase(text: "1s500ms", msec: 1500, sec: nil),
    TimeCase(text: "30m1h", msec: nil, sec: nil),
    TimeCase(text: "1h1h", msec: nil, sec: nil),
    TimeCase(text: "", msec: nil, sec: nil),
    TimeCase(text: "h", msec: nil, sec: nil),
    TimeCase(text: "1x", msec: nil, sec: nil),
    TimeCase(text: "-1s", msec: nil, sec: nil),
])
func timeParsing(_ c: TimeCase) {
    #expect(ConfigValueParser.time(c.text, isSeconds: false) == c.msec)
    #expect(ConfigValueParser.time(c.text, isSeconds: true) == c.sec)
}

/// Numbers are plain decimal digits; flags are on/off in any case.
@Test func numbersAndFlags() {
    #expect(ConfigValueParser.number("42") == 42)
    #expect(ConfigValueParser.number("+42") == nil)
    #expect(ConfigValueParser.number("4 2") == nil)
    #expect(ConfigValueParser.flag("ON") == true)
    #expect(ConfigValueParser.flag("Off") == false)
    #expect(ConfigValueParser.flag("yes") == nil)
}
