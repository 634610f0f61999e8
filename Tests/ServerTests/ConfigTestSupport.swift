@testable import Server

/// The main file every config test parses.
let testConfigFile = "/etc/postern/postern.conf"

/// Enough mail block for a server to be complete.
let minimalMail = "mail { auth_http 127.0.0.1:9000/auth; server { listen 127.0.0.1:1143; protocol imap; } }"

/// Parses `text` as the main file, with `others` as extra in-memory files.
func parseTestConfig(_ text: String, others: [String: String] = [:], directives: String? = nil,
                     hosts: [String: [ConfigIPAddress]] = [:]) -> Result<PosternConfig, ConfigErrorList> {
    var files = others
    files[testConfigFile] = text
    let env = InMemoryConfigEnvironment(files: files, hostname: "host.example.test", hosts: hosts)
    return parseConfig(prefix: "/var/lib/postern", configFile: testConfigFile,
                       commandLineDirectives: directives, environment: env)
}

/// The error lines of a parse that must fail, as nginx would print them.
func configErrors(_ text: String, others: [String: String] = [:], directives: String? = nil) -> [String] {
    switch parseTestConfig(text, others: others, directives: directives) {
    case .success: return []
    case .failure(let list): return list.errors.map(\.description)
    }
}

/// The config of a parse that must succeed (nil and a recorded issue otherwise).
func parsedConfig(_ text: String, others: [String: String] = [:], directives: String? = nil,
                  hosts: [String: [ConfigIPAddress]] = [:]) -> PosternConfig? {
    switch parseTestConfig(text, others: others, directives: directives, hosts: hosts) {
    case .success(let c): return c
    case .failure(let list):
        Issue.record("unexpected config errors: \(list)")
        return nil
    }
}

import Testing
