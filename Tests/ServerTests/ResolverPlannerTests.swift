import Testing
@testable import Server

@Suite struct ResolverPlannerTests {
    static let text = """
        error_log /tmp/postern-resolver-planner-test.log info;
        events { }
        mail {
            auth_http 127.0.0.1:9000/auth;
            resolver 127.0.0.1:5353 [::1] valid=30s ipv6=off;
            resolver_timeout 2s;
            server {
                listen 127.0.0.1:1143;
                listen 127.0.0.1:1144 proxy_protocol;
                protocol imap;
                set_real_ip_from 10.0.0.0/8;
                set_real_ip_from unix:;
                proxy_protocol on;
            }
            server { listen 127.0.0.1:1145; protocol imap; resolver off; }
        }
        """

    static func plan() throws -> RuntimePlan {
        let file = "/etc/postern/postern.conf"
        let config = try parseConfig(prefix: "/etc/postern/", configFile: file,
                                     environment: InMemoryConfigEnvironment(files: [file: text], hostname: "localhost"),
                                     implementedDirectives: implementedDirectives).get()
        let (targets, _) = ConfigPlanner.logTargets(config.main.errorLogs)
        return try ConfigPlanner.plan(config, mainLog: ErrorLog.stderr(level: .emerg), mainTargets: targets).get()
    }

    /// resolver, resolver_timeout, set_real_ip_from, proxy_protocol and listen proxy_protocol reach the settings.
    @Test func settingsFilled() throws {
        let plan = try Self.plan()
        let plain = plan.listeners[0].settings
        let proxied = plan.listeners[1].settings
        #expect(!plain.acceptProxyProtocol)
        #expect(proxied.acceptProxyProtocol)
        #expect(proxied.backendProxyProtocol == .on)
        #expect(proxied.realIPTrust.trusts(.ipv4(bytes: [10, 9, 8, 7], port: 1)))
        #expect(proxied.realIPTrust.trusts(.unix(path: "/x")))
        #expect(!proxied.realIPTrust.trusts(.ipv4(bytes: [11, 0, 0, 1], port: 1)))
        let resolver = try #require(proxied.resolver)
        #expect(resolver.servers.map(\.description) == ["127.0.0.1:5353", "[::1]:53"])
        #expect(resolver.timeoutMillis == 2000)
        #expect(resolver.validSeconds == 30)
        #expect(resolver.ipv4 && !resolver.ipv6)
        // Listeners of one server block share one resolver and its cache.
        #expect(plain.resolver === resolver)
        #expect(plan.listeners[2].settings.resolver == nil)
    }

    /// None of these directives is reported as "not supported yet" any more.
    @Test func noLongerWarned() throws {
        let plan = try Self.plan()
        for name in ["resolver", "set_real_ip_from", "proxy_protocol"] {
            #expect(!plan.startupWarnings.contains { $0.contains("\"\(name)\"") || $0.contains("\(name)\" directive") },
                    "\(plan.startupWarnings)")
        }
    }

    /// Without a resolver the client name is nginx's placeholder: [UNAVAILABLE], or
    /// [TEMPUNAVAIL] for a unix-socket client.
    @Test func clientNameWithoutResolver() throws {
        let settings = try Self.plan().listeners[2].settings
        let tcp = ClientPeer(address: .ipv4(bytes: [192, 0, 2, 1], port: 5), connectionAddress: nil, localAddress: nil)
        let unix = ClientPeer(address: .unix(path: "/run/p.sock"), connectionAddress: nil, localAddress: nil)
        #expect(settings.clientName(for: tcp) == .unavailable)
        #expect(settings.clientName(for: unix) == .temporarilyUnavailable)
    }
}
