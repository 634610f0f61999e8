import Testing
@testable import Server

/// Flags combine, values come from the rest of the word or the next word.
@Test func commandLineOptions() throws {
    let o = try parseCommandLine(["-tq", "-p", "/srv/p/", "-c/etc/x.conf", "-g", "daemon off;", "-e", "stderr", "-s", "reload"]).get()
    #expect(o.testConfig && o.quiet && !o.dumpConfig)
    #expect(o.prefix == "/srv/p/" && o.configFile == "/etc/x.conf" && o.directives == "daemon off;")
    #expect(o.errorLog == .stderr && o.signal == .reload)
    let t = try parseCommandLine(["-T", "-V"]).get()
    #expect(t.testConfig && t.dumpConfig && t.showVersion && t.showConfigure)
    let h = try parseCommandLine(["-?"]).get()
    #expect(h.showHelp && h.showVersion)
    #expect(try parseCommandLine(["-v"]).get().showVersion)
    #expect(try parseCommandLine(["-e", "/var/log/e.log"]).get().errorLog == .file("/var/log/e.log"))
    #expect(try parseCommandLine([]).get() == CommandLineOptions())
}

/// Bad usage is reported with nginx's words and our program name.
@Test(arguments: [
    (["x"], "postern: invalid option: \"x\""),
    (["-x"], "postern: invalid option: \"x\""),
    (["-tz"], "postern: invalid option: \"z\""),
    (["-p"], "postern: option \"-p\" requires directory name"),
    (["-c"], "postern: option \"-c\" requires file name"),
    (["-e"], "postern: option \"-e\" requires file name"),
    (["-g"], "postern: option \"-g\" requires parameter"),
    (["-s"], "postern: option \"-s\" requires parameter"),
    (["-s", "restart"], "postern: invalid option: \"-s restart\""),
])
func commandLineErrors(args: [String], message: String) {
    switch parseCommandLine(args) {
    case .success: Issue.record("expected an error for \(args)")
    case .failure(let e): #expect(e.description == message)
    }
}

/// -T's dump lists each file read with nginx's header and a newline after it.
@Test func dumpText() {
    let others = ["/etc/postern/inc.conf": "# inc"]
    guard let c = parsedConfig("include inc.conf;\n\(minimalMail)", others: others) else { return }
    #expect(c.dump == """
        # configuration file /etc/postern/postern.conf:
        include inc.conf;
        \(minimalMail)
        # configuration file /etc/postern/inc.conf:
        # inc

        """)
}
