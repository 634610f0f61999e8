import Testing
import Protocols
@testable import Server

private let f = testConfigFile

/// The site config from the task parses into the expected model.
@Test func typicalSiteConfig() {
    let text = """
        worker_processes 1; error_log logs/error.log info; pid logs/postern.pid;
        events { worker_connections 1024; }
        mail {
          server_name mail.example.test; auth_http 127.0.0.1:9000/auth; proxy_pass_error_message on;
          imap_capabilities IMAP4rev1 UIDPLUS IDLE LITERAL+; imap_auth plain login cram-md5;
          server { listen 127.0.0.1:1143; protocol imap; }
          server { listen [::1]:1110; protocol pop3; }
        }
        """
    guard let c = parsedConfig(text) else { return }
    #expect(c.main.workerProcesses == .count(1))
    #expect(c.main.errorLogs == [ErrorLogSpec(target: .file("/var/lib/postern/logs/error.log"), level: .info)])
    #expect(c.main.pidPath == "/var/lib/postern/logs/postern.pid")
    #expect(c.main.workerConnections == 1024)
    #expect(c.mail == MailSettings())
    #expect(c.servers.count == 2)
    let imap = c.servers[0], pop3 = c.servers[1]
    #expect(imap.protocolName == .imap)
    #expect(imap.serverName == "mail.example.test")
    #expect(imap.authHTTP == AuthHTTPURL(peer: .host("127.0.0.1", port: 9000), hostHeader: "127.0.0.1", uri: "/auth"))
    #expect(imap.proxyPassErrorMessage)
    #expect(imap.imapCapabilities == ["IMAP4rev1", "UIDPLUS", "IDLE", "LITERAL+"])
    #expect(imap.imapAuth == [.plain, .login, .cramMD5])
    #expect(imap.errorLogs == c.main.errorLogs)
    #expect(imap.timeout == 60_000)
    #expect(imap.proxyTimeout == 86_400_000)
    #expect(pop3.protocolName == .pop3)
    #expect(pop3.pop3Auth == [.plain, .login])
    #expect(c.listeners.count == 2)
    #expect(c.listeners[0].address == .inet(ConfigIPAddress(parsing: "127.0.0.1")!, port: 1143))
    #expect(c.listeners[1].address == .inet(ConfigIPAddress(parsing: "::1")!, port: 1110))
    #expect(c.listeners[1].address.description == "[::1]:1110")
    #expect(c.listeners.map(\.serverIndex) == [0, 1])
    // worker_processes has no effect in Postern's single process.
    #expect(c.notSupportedYet.map(\.name) == ["worker_processes"])
    #expect(c.notSupportedYet.first?.location == .file(f, line: 1))
}

/// A server value overrides mail's; an unset one takes mail's; unset in
/// both takes nginx's default. Lists replace, they never merge.
@Test func inheritanceMailToServer() {
    let text = """
        mail {
            auth_http unix:/run/auth.sock:/check;
            timeout 30s;
            imap_auth login;
            auth_http_header X-Site one;
            smtp_capabilities PIPELINING 8BITMIME;
            server { listen 1143; protocol imap; timeout 5s; imap_auth cram-md5; }
            server { listen 1144; protocol imap; auth_http_header X-Other two; }
            server { listen 2525; protocol smtp; auth_http 10.0.0.1/a; server_name smtp.test; }
        }
        """
    guard let c = parsedConfig(text) else { return }
    let (a, b, s) = (c.servers[0], c.servers[1], c.servers[2])
    #expect(a.timeout == 5_000)
    #expect(b.timeout == 30_000)
    #expect(a.imapAuth == [.cramMD5])
    #expect(b.imapAuth == [.login])
    #expect(a.authHTTP == AuthHTTPURL(peer: .unix("/run/auth.sock"), hostHeader: "localhost", uri: "/check"))
    #expect(a.authHTTPHeaders.map { [$0.name, $0.value] } == [["X-Site", "one"]])
    #expect(b.authHTTPHeaders.map { [$0.name, $0.value] } == [["X-Other", "two"]])
    #expect(s.authHTTP == AuthHTTPURL(peer: .host("10.0.0.1", port: 80), hostHeader: "10.0.0.1", uri: "/a"))
    #expect(s.smtpCapabilities == ["PIPELINING", "8BITMIME"])
    #expect(s.serverName == "smtp.test")
    #expect(a.serverName == "host.example.test")
    #expect(s.smtpAuth == [.plain, .login])
    #expect(a.maxErrors == 5 && a.proxyBuffer == 4096 && a.xclient && !a.proxy)
    #expect(a.authHTTPTimeout == 60_000 && a.resolverTimeout == 30_000 && a.resolver == nil)
    #expect(a.imapCapabilities == ["IMAP4", "IMAP4rev1", "UIDPLUS"])
    #expect(a.pop3Capabilities == ["TOP", "USER", "UIDL"])
    #expect(a.starttls == .off && a.ssl == SSLSettings())
    #expect(a.authCachePath == nil && a.maxLineLength == 8192)
}

/// Without `protocol`, the first well-known listen port decides; an
/// explicit `protocol` wins over the port.
@Test(arguments: [
    (143, MailProtocol.imap), (993, .imap), (110, .pop3), (995, .pop3), (25, .smtp), (587, .smtp), (465, .smtp),
])
func protocolFromWellKnownPort(port: Int, expected: MailProtocol) {
    guard let c = parsedConfig("mail { auth_http 127.0.0.1:9/a; server { listen 127.0.0.1:\(port); } }") else { return }
    #expect(c.servers[0].protocolName == expected)
}

/// An explicit protocol beats the port's.
@Test func explicitProtocolWins() {
    guard let c = parsedConfig("mail { auth_http 127.0.0.1:9/a; server { listen 110; protocol imap; } }") else { return }
    #expect(c.servers[0].protocolName == .imap)
}

/// Every listen form and parameter of ngx_mail_core_module.
@Test func listenVariants() {
    let text = """
        mail {
            auth_http 127.0.0.1:9000/;
            server {
                protocol imap;
                listen 1143;
                listen *:1144 backlog=64 rcvbuf=64k sndbuf=1m;
                listen [::]:1143 ipv6only=off bind;
                listen [::1]:1145 so_keepalive=30m::10;
                listen unix:/run/postern/imap.sock proxy_protocol;
                listen mail.test:1146 so_keepalive=on multipath;
            }
        }
        """
    let hosts = ["mail.test": [ConfigIPAddress(parsing: "192.0.2.1")!, ConfigIPAddress(parsing: "2001:db8::1")!]]
    guard let c = parsedConfig(text, hosts: hosts) else { return }
    let l = c.listeners
    #expect(l.map(\.address.description) == [
        "0.0.0.0:1143", "0.0.0.0:1144", "[::]:1143", "[::1]:1145", "unix:/run/postern/imap.sock",
        "192.0.2.1:1146", "[2001:db8::1]:1146",
    ])
    #expect(l[0].backlog == 511 && !l[0].bind && l[0].ipv6only)
    #expect(l[1].backlog == 64 && l[1].rcvbuf == 65536 && l[1].sndbuf == 1 << 20 && l[1].bind)
    #expect(!l[2].ipv6only && l[2].bind)
    #expect(l[3].soKeepalive == .tuned(idle: 1800, interval: nil, count: 10))
    #expect(l[4].proxyProtocol)
    #expect(l[5].soKeepalive == .on && l[5].multipath && l[6].multipath)
    #expect(c.notSupportedYet.map(\.name) == ["listen proxy_protocol", "listen multipath"])
}

/// Two servers on the same address are refused; wildcard and a specific
/// address on one port, or v4 and v6 wildcards, are distinct.
@Test func duplicateAddressDetection() {
    let ok = "mail { auth_http 127.0.0.1:9/a; server { listen 1143; listen [::]:1143; protocol imap; } server { listen 127.0.0.1:1143; protocol imap; } }"
    #expect(parsedConfig(ok)?.listeners.count == 3)
    #expect(configErrors("mail { server { listen 127.0.0.1:1143; listen 127.0.0.1:1143; } }") == [
        "duplicate \"127.0.0.1:1143\" address and port pair in \(f):1",
    ])
    #expect(configErrors("mail { server { listen [::1]:1143; } server { listen [0:0::1]:1143; } }") == [
        "duplicate \"[::1]:1143\" address and port pair in \(f):1",
    ])
}

/// TLS and the other directives without effect yet are listed with their
/// location, and their values still land in the model.
@Test func sslSettingsAndNotSupportedYet() {
    let text = """
        mail {
            auth_http 127.0.0.1:9/a;
            ssl_certificate certs/mail.pem;
            ssl_certificate_key /keys/mail.key;
            ssl_protocols TLSv1.2 TLSv1.3;
            ssl_session_cache shared:MAIL:10m;
            ssl_session_timeout 10m;
            ssl_verify_client optional_no_ca;
            ssl_conf_command Options PrioritizeChaCha;
            set_real_ip_from 192.0.2.0/24;
            set_real_ip_from unix:;
            resolver 127.0.0.53 [::1]:5353 valid=30s ipv6=off;
            xclient off;
            server { listen 993 ssl; starttls only; }
        }
        """
    guard let c = parsedConfig(text) else { return }
    let s = c.servers[0]
    #expect(s.protocolName == .imap)
    #expect(s.ssl.certificates == ["/etc/postern/certs/mail.pem"])
    #expect(s.ssl.certificateKeys == ["/keys/mail.key"])
    #expect(s.ssl.protocols == ["TLSv1.2", "TLSv1.3"])
    #expect(s.ssl.sessionCache == .caches(builtin: nil, sharedName: "MAIL", sharedSize: 10 << 20))
    #expect(s.ssl.sessionTimeoutSeconds == 600)
    #expect(s.ssl.verifyClient == .optionalNoCA)
    #expect(s.ssl.confCommands.map { [$0.name, $0.value] } == [["Options", "PrioritizeChaCha"]])
    #expect(s.starttls == .only)
    #expect(!s.xclient)
    #expect(s.setRealIPFrom == [.network(ConfigIPAddress(parsing: "192.0.2.0")!, prefixLength: 24), .unixDomain])
    #expect(s.resolver == ResolverSettings(servers: [.init(host: "127.0.0.53", port: 53), .init(host: "::1", port: 5353)],
                                           valid: 30_000, ipv4: true, ipv6: false))
    let names = c.notSupportedYet.map(\.name)
    #expect(names.contains("ssl_certificate") && names.contains("resolver") && names.contains("set_real_ip_from"))
    #expect(names.contains("listen ssl") && names.contains("starttls") && names.contains("xclient"))
    #expect(c.notSupportedYet.first { $0.name == "ssl_protocols" }?.location == .file(f, line: 5))
}

/// A set_real_ip_from with host bits set is a warning and is masked.
@Test func realIPHostBitsWarn() {
    guard let c = parsedConfig("mail { set_real_ip_from 10.1.2.3/8; \(minimalMail.dropFirst(7))") else { return }
    #expect(c.warnings.map(\.description) == ["low address bits of 10.1.2.3/8 are meaningless in \(f):1"])
    #expect(c.servers[0].setRealIPFrom == [.network(.v4([10, 0, 0, 0]), prefixLength: 8)])
}

/// Postern's own directives: pool sizes in mail, cache per server, paths
/// against the prefix.
@Test func posternDirectives() {
    let text = """
        mail {
            session_pool_threads 16; session_pool_queue 32; relay_threads 4;
            auth_cache cache/auth.sqlite; auth_cache_ttl 10m; auth_cache_fail_ttl 30s; max_line_length 16k;
            auth_http 127.0.0.1:9/a;
            server { listen 1143; protocol imap; }
            server { listen 1144; protocol imap; auth_cache off; }
        }
        """
    guard let c = parsedConfig(text) else { return }
    #expect(c.mail == MailSettings(sessionPoolThreads: 16, sessionPoolQueue: 32, relayThreads: 4))
    #expect(c.servers[0].authCachePath == "/var/lib/postern/cache/auth.sqlite")
    #expect(c.servers[0].authCacheTTL == 600_000 && c.servers[0].authCacheFailTTL == 30_000)
    #expect(c.servers[0].maxLineLength == 16384)
    #expect(c.servers[1].authCachePath == nil)
    #expect(configErrors("mail { server { session_pool_threads 4; } }") == [
        "\"session_pool_threads\" directive is not allowed here in \(f):1",
    ])
}

/// Main-context directives land in MainSettings.
@Test func mainSettings() {
    let text = """
        user mail; daemon off; master_process off; env TZ; env LANG=C; load_module modules/ngx_mail_module.so;
        worker_shutdown_timeout 10s; worker_rlimit_nofile 4096; error_log stderr warn; error_log /var/log/p.log;
        events { worker_connections 64; use epoll; multi_accept on; }
        """
    guard let c = parsedConfig(text) else { return }
    let m = c.main
    #expect(m.user == "mail" && m.group == "mail")
    #expect(!m.daemon && !m.masterProcess)
    #expect(m.env == ["TZ", "LANG=C"])
    #expect(m.loadModules == ["modules/ngx_mail_module.so"])
    #expect(m.workerShutdownTimeout == 10_000 && m.workerRlimitNofile == 4096)
    #expect(m.errorLogs == [ErrorLogSpec(target: .stderr, level: .warn), ErrorLogSpec(target: .file("/var/log/p.log"), level: .error)])
    #expect(m.workerConnections == 64 && m.eventsMethod == "epoll" && m.multiAccept)
    #expect(c.mail == nil && c.servers.isEmpty && c.listeners.isEmpty)
    #expect(MainSettings().pidPath == PosternDefaults.pidPath)
}

/// -g directives are read first, in main context; the file repeating one is
/// a duplicate; errors in them say "in command line".
@Test func commandLineDirectives() {
    guard let c = parsedConfig(minimalMail, directives: "daemon off; pid /run/x.pid;") else { return }
    #expect(!c.main.daemon && c.main.pidPath == "/run/x.pid")
    #expect(configErrors("daemon on;", directives: "daemon off;") == ["\"daemon\" directive is duplicate in \(f):1"])
    #expect(configErrors("", directives: "daemon off") == ["unexpected end of parameter, expecting \";\" in command line"])
    #expect(configErrors("", directives: "events { }") == ["block directives are not supported in -g option in command line"])
    #expect(configErrors("", directives: "bogus 1;") == ["unknown directive \"bogus\" in command line"])
    #expect(configErrors("", directives: "timeout 1s;") == ["\"timeout\" directive is not allowed here in command line"])
}

/// The lead can widen the implemented set; those directives leave the list.
@Test func implementedSetIsAParameter() {
    let env = InMemoryConfigEnvironment(files: [testConfigFile: "worker_processes 2; \(minimalMail)"])
    let result = parseConfig(prefix: "/", configFile: testConfigFile, environment: env,
                             implementedDirectives: PosternConfig.defaultImplementedDirectives.union(["worker_processes"]))
    guard case .success(let c) = result else { Issue.record("parse failed"); return }
    #expect(c.notSupportedYet.isEmpty)
}

/// The text convenience entry point parses a whole config.
@Test func parseConfigTextEntryPoint() {
    guard case .success(let c) = parseConfig(text: minimalMail) else { Issue.record("parse failed"); return }
    #expect(c.servers.first?.serverName == "localhost")
}

/// auth_http and resolver names must resolve while reading, as in nginx.
@Test func namesResolveAtParseTime() {
    #expect(configErrors("mail { auth_http http://auth.invalid:9000/a; }") == [
        "host not found in auth_http \"auth.invalid:9000/a\" in \(testConfigFile):1",
    ])
    #expect(configErrors("mail { resolver dns.invalid; }") == [
        "host not found in resolver \"dns.invalid\" in \(testConfigFile):1",
    ])
    let hosts = ["auth.test": [ConfigIPAddress.v4([127, 0, 0, 1])]]
    let c = parsedConfig("mail { auth_http auth.test:9000/a; server { listen 1143; protocol imap; } }", hosts: hosts)
    #expect(c?.servers.first?.authHTTP == AuthHTTPURL(peer: .host("auth.test", port: 9000), hostHeader: "auth.test", uri: "/a"))
}

/// -e replaces the default error log only when main sets none.
@Test func errorLogOverride() throws {
    let env = InMemoryConfigEnvironment(files: [testConfigFile: minimalMail])
    let c = try parseConfig(prefix: "/p", configFile: testConfigFile, errorLogOverride: .file("e.log"), environment: env).get()
    #expect(c.main.errorLogs == [ErrorLogSpec(target: .file("/p/e.log"))])
    #expect(c.servers[0].errorLogs == c.main.errorLogs)
    let env2 = InMemoryConfigEnvironment(files: [testConfigFile: "error_log stderr; \(minimalMail)"])
    let c2 = try parseConfig(prefix: "/p", configFile: testConfigFile, errorLogOverride: .file("e.log"), environment: env2).get()
    #expect(c2.main.errorLogs == [ErrorLogSpec(target: .stderr)])
}

/// The "accepted but no effect" line names the directive and where it is.
@Test func notSupportedMessageText() {
    let use = DirectiveUse(name: "xclient", location: .file("/etc/postern/postern.conf", line: 7))
    #expect(use.notSupportedMessage == "the \"xclient\" directive is accepted but has no effect in this version of postern in /etc/postern/postern.conf:7")
}
