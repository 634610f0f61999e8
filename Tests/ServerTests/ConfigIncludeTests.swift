import Testing
@testable import Server

private let f = testConfigFile

/// A glob include pulls in every match, in sorted order, relative to the
/// directory of the main file; errors name the included file and its line.
@Test func includeGlobSortedRelativeToConfigDirectory() {
    let others = [
        "/etc/postern/conf.d/20-pop3.conf": "server { listen 127.0.0.1:1110; protocol pop3; }\n",
        "/etc/postern/conf.d/10-imap.conf": "server { listen 127.0.0.1:1143; protocol imap; }\n",
        "/etc/postern/conf.d/readme.txt": "not config",
        "/etc/postern/mail-common.conf": "auth_http 127.0.0.1:9000/auth;\n",
    ]
    let text = "mail {\n include mail-common.conf;\n include conf.d/*.conf;\n}\n"
    guard let config = parsedConfig(text, others: others) else { return }
    #expect(config.servers.map(\.protocolName) == [.imap, .pop3])
    #expect(config.servers[0].file == "/etc/postern/conf.d/10-imap.conf")
    #expect(config.listeners.map(\.serverIndex) == [0, 1])
    #expect(config.dump.contains("# configuration file /etc/postern/conf.d/10-imap.conf:\n"))
    #expect(config.dump.hasPrefix("# configuration file \(f):\n"))
}

/// A glob that matches nothing includes nothing, without error (nginx).
@Test func includeGlobWithNoMatchIsFine() {
    #expect(parsedConfig("include conf.d/*.conf; \(minimalMail)") != nil)
}

/// An error inside an included file carries that file's name and line.
@Test func includeErrorLocation() {
    let others = ["/etc/postern/bad.conf": "\n\nbogus;\n"]
    #expect(configErrors("mail { include bad.conf; }", others: others) == [
        "unknown directive \"bogus\" in /etc/postern/bad.conf:3",
    ])
}

/// An included file is its own unit: a "}" it does not open is unexpected.
@Test func includeUnbalancedBrace() {
    let others = ["/etc/postern/x.conf": "timeout 1s; }\n"]
    #expect(configErrors("mail { include x.conf; }", others: others) == ["unexpected \"}\" in /etc/postern/x.conf:1"])
}

/// A file including itself stops at a depth bound instead of looping.
@Test func includeLoopIsBounded() {
    let others = ["/etc/postern/loop.conf": "include loop.conf;\n"]
    let errors = configErrors("include loop.conf;", others: others)
    #expect(errors.count == 1)
    #expect(errors.first?.hasPrefix("include nesting is too deep") == true)
}

/// Absolute include paths are used as written.
@Test func includeAbsolute() {
    let others = ["/srv/mail.conf": minimalMail]
    guard let config = parsedConfig("include /srv/mail.conf;", others: others) else { return }
    #expect(config.servers.count == 1)
}
