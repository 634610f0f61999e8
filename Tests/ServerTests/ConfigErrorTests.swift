import Testing
@testable import Server

struct ErrorCase: Sendable, CustomStringConvertible {
    let config: String
    let expected: [String]
    var description: String { config }
}

private let f = testConfigFile
private let okServer = "server { listen 127.0.0.1:1143; protocol imap; }"

/// Every error kind prints as nginx prints it, with the right file and line.
@Test(arguments: [
    ErrorCase(config: "foo 1;", expected: ["unknown directive \"foo\" in \(f):1"]),
    ErrorCase(config: "\n\nmail {\n  bogus on;\n}", expected: ["unknown directive \"bogus\" in \(f):4"]),
    ErrorCase(config: "mail { timeout; }", expected: ["invalid number of arguments in \"timeout\" directive in \(f):1"]),
    ErrorCase(config: "mail { server_name a b; }", expected: ["invalid number of arguments in \"server_name\" directive in \(f):1"]),
    ErrorCase(config: "mail { server { listen; } }", expected: ["invalid number of arguments in \"listen\" directive in \(f):1"]),
    ErrorCase(config: "mail {\n timeout 1s;\n timeout 2s;\n}", expected: ["\"timeout\" directive is duplicate in \(f):3"]),
    ErrorCase(config: "imap_auth plain;", expected: ["\"imap_auth\" directive is not allowed here in \(f):1"]),
    ErrorCase(config: "mail { listen 1143; }", expected: ["\"listen\" directive is not allowed here in \(f):1"]),
    ErrorCase(config: "mail { worker_connections 10; }", expected: ["\"worker_connections\" directive is not allowed here in \(f):1"]),
    ErrorCase(config: "mail { starttls maybe; }", expected: ["invalid value \"maybe\" in \(f):1"]),
    ErrorCase(config: "mail { imap_auth plain bogus; }", expected: ["invalid value \"bogus\" in \(f):1"]),
    ErrorCase(config: "mail { smtp_auth none digest-md5; }", expected: ["invalid value \"digest-md5\" in \(f):1"]),
    ErrorCase(config: "mail { ssl_verify_client sometimes; }", expected: ["invalid value \"sometimes\" in \(f):1"]),
    ErrorCase(config: "mail { ssl_protocols TLSv1.2 TLSv9; }", expected: ["invalid value \"TLSv9\" in \(f):1"]),
    ErrorCase(config: "mail { timeout 1x; }", expected: ["\"timeout\" directive invalid value in \(f):1"]),
    ErrorCase(config: "mail { proxy_buffer 1q; }", expected: ["\"proxy_buffer\" directive invalid value in \(f):1"]),
    ErrorCase(config: "mail { max_errors x; }", expected: ["\"max_errors\" directive invalid number in \(f):1"]),
    ErrorCase(config: "mail { proxy yes; }", expected: ["invalid value \"yes\" in \"proxy\" directive, it must be \"on\" or \"off\" in \(f):1"]),
    ErrorCase(config: "mail { server; }", expected: ["directive \"server\" has no opening \"{\" in \(f):1"]),
    ErrorCase(config: "mail { timeout 1s { } }", expected: ["directive \"timeout\" is not terminated by \";\" in \(f):1"]),
    ErrorCase(config: "mail { timeout 1s }", expected: ["unexpected \"}\" in \(f):1"]),
    ErrorCase(config: "mail { timeout \"1s }\n", expected: ["unexpected end of file, expecting \";\" or \"}\" in \(f):2"]),
    ErrorCase(config: "mail { timeout 1s; } }", expected: ["unexpected \"}\" in \(f):1"]),
    ErrorCase(config: "mail {\n timeout 1s;\n", expected: ["unexpected end of file, expecting \"}\" in \(f):3"]),
    ErrorCase(config: "mail { } mail { }", expected: ["\"mail\" directive is duplicate in \(f):1"]),
    ErrorCase(config: "events { } events { }", expected: ["\"events\" directive is duplicate in \(f):1"]),
    ErrorCase(config: "worker_processes many;", expected: ["\"worker_processes\" directive invalid value in \(f):1"]),
    ErrorCase(config: "mail { error_log stderr bogus; }", expected: ["invalid log level \"bogus\" in \(f):1"]),
    ErrorCase(config: "mail { error_log stderr info warn; }", expected: ["duplicate log level \"warn\" in \(f):1"]),
    ErrorCase(config: "mail { ssl_session_cache shared:x:1k; }", expected: ["session cache \"shared:x:1k\" is too small in \(f):1"]),
    ErrorCase(config: "mail { ssl_session_cache sometimes; }", expected: ["invalid session cache \"sometimes\" in \(f):1"]),
    ErrorCase(config: "mail { auth_http 127.0.0.1:0/a; }", expected: ["invalid port in auth_http \"127.0.0.1:0/a\" in \(f):1"]),
    ErrorCase(config: "mail { resolver 127.0.0.1 ipv4=off ipv6=off; }", expected: ["\"ipv4\" and \"ipv6\" cannot both be \"off\" in \(f):1"]),
    ErrorCase(config: "mail { server { protocol imap4; listen 1143; } }", expected: ["unknown protocol \"imap4\" in \(f):1"]),
    ErrorCase(config: "mail { server { listen 1143 foo; protocol imap; } }", expected: ["invalid parameter \"foo\" in \(f):1"]),
    ErrorCase(config: "mail { server { listen 1143 backlog=x; } }", expected: ["invalid backlog \"backlog=x\" in \(f):1"]),
    ErrorCase(config: "mail { server { listen 1143 rcvbuf=1q; } }", expected: ["invalid rcvbuf \"rcvbuf=1q\" in \(f):1"]),
    ErrorCase(config: "mail { server { listen [::1]:1143 ipv6only=x; } }", expected: ["invalid parameter \"ipv6only=x\" in \(f):1"]),
    ErrorCase(config: "mail { server { listen [::1]:1143 ipv6only=oops; } }", expected: ["invalid ipv6only flags \"oops\" in \(f):1"]),
    ErrorCase(config: "mail { server { listen 1143 so_keepalive=x; } }", expected: ["invalid so_keepalive value: \"x\" in \(f):1"]),
    ErrorCase(config: "mail { server { listen 70000; } }", expected: ["invalid port in \"70000\" of the \"listen\" directive in \(f):1"]),
    ErrorCase(config: "mail { server { listen [::1:143; } }", expected: ["invalid host in \"[::1:143\" of the \"listen\" directive in \(f):1"]),
    ErrorCase(config: "mail { server { listen nowhere.invalid:143; } }", expected: ["host not found in \"nowhere.invalid:143\" of the \"listen\" directive in \(f):1"]),
    ErrorCase(config: "mail { server { listen 127.0.0.1; } }", expected: ["no port in \"127.0.0.1\" of the \"listen\" directive in \(f):1"]),
    ErrorCase(config: "mail { auth_http 127.0.0.1:9/a; server {\n protocol imap;\n} }", expected: ["no \"listen\" is defined for server in \(f):1"]),
    ErrorCase(config: "mail { auth_http 127.0.0.1:9/a; server { listen 1143; } }", expected: ["unknown mail protocol for server in \(f):1"]),
    ErrorCase(config: "mail { server { listen 1143; protocol imap; } }", expected: ["no \"auth_http\" is defined for server in \(f):1"]),
    ErrorCase(config: "mail { auth_http 127.0.0.1:9/a; server { listen 1143; protocol imap; }\n server { listen *:1143; protocol imap; } }",
              expected: ["duplicate \"0.0.0.0:1143\" address and port pair in \(f):2"]),
    ErrorCase(config: "mail { auth_http 127.0.0.1:9/a; server { listen 1465 ssl; protocol smtp; } }",
              expected: ["no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in \(f):1"]),
    ErrorCase(config: "mail { auth_http 127.0.0.1:9/a;\n starttls on; ssl_certificate a.pem; server { listen 1143; protocol imap; } }",
              expected: ["no \"ssl_certificate_key\" is defined for the \"starttls\" directive in \(f):2"]),
    ErrorCase(config: "include;", expected: ["invalid number of arguments in \"include\" directive in \(f):1"]),
    ErrorCase(config: "include missing.conf;", expected: ["open() \"/etc/postern/missing.conf\" failed (2: No such file or directory) in \(f):1"]),
])
func configErrorText(_ c: ErrorCase) {
    #expect(configErrors(c.config) == c.expected)
}

/// Errors are collected: every bad directive is reported, not just the first.
@Test func errorsAreCollected() {
    let text = """
        worker_processes 1;
        bogus 1;
        mail {
            timeout 1x;
            imap_auth plain login nope;
            auth_http 127.0.0.1:9000/auth;
            server { listen 1143; protocol imap; nonsense; }
        }
        """
    #expect(configErrors(text) == [
        "unknown directive \"bogus\" in \(f):2",
        "\"timeout\" directive invalid value in \(f):4",
        "invalid value \"nope\" in \(f):5",
        "unknown directive \"nonsense\" in \(f):7",
    ])
}

/// The main file missing is reported without a location, as nginx does.
@Test func missingMainFile() {
    let result = parseConfig(prefix: "/p/", configFile: "nope.conf", environment: InMemoryConfigEnvironment(files: [:]))
    guard case .failure(let list) = result else { Issue.record("expected failure"); return }
    #expect(list.description == "open() \"/p/nope.conf\" failed (2: No such file or directory)")
}

/// A repeated bitmask value is a warning, not an error, as in nginx.
@Test func duplicateBitmaskValueWarns() {
    guard let config = parsedConfig("mail { imap_auth plain plain; \(okServerWithAuth) }") else { return }
    #expect(config.warnings.map(\.description) == ["duplicate value \"plain\" in \(f):1"])
}

private let okServerWithAuth = "auth_http 127.0.0.1:9/a; \(okServer)"
