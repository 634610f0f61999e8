import Foundation
import Testing
@testable import Server

/// TLS in the plan: session settings follow `starttls` and `listen ... ssl`,
/// contexts are built at plan time, and ssl listeners may share an address.
@Suite struct PlannerTLSTests {
    static func plan(_ servers: String, mail: String = "") -> Result<RuntimePlan, ConfigPlanner.Failure> {
        let certs = TLSTestCerts.directory
        let text = """
            error_log /tmp/postern-planner-tls-test.log info;
            events {}
            mail {
                auth_http 127.0.0.1:9000/auth;
                ssl_certificate \(certs)/mail-rsa.pem;
                ssl_certificate_key \(certs)/mail-rsa.key;
                \(mail)
            \(servers)
            }
            """
        let file = "/etc/postern/postern.conf"
        let config: PosternConfig
        switch parseConfig(prefix: PosternDefaults.prefix, configFile: file,
                           environment: InMemoryConfigEnvironment(files: [file: text], hostname: "localhost"),
                           implementedDirectives: implementedDirectives) {
        case .success(let c): config = c
        case .failure(let errors): return .failure(ConfigPlanner.Failure(description: "\(errors.errors)"))
        }
        if let failure = ConfigPlanner.checkTLS(config) { return .failure(failure) }
        let (targets, _) = ConfigPlanner.logTargets(config.main.errorLogs)
        return ConfigPlanner.plan(config, mainLog: ErrorLog.stderr(level: .emerg), mainTargets: targets)
    }

    /// `starttls only` reaches all three session kinds, TLS not yet active, with a server context.
    @Test func starttlsReachesSessions() throws {
        let plan = try Self.plan("""
            server { listen 127.0.0.1:1143; protocol imap; starttls only; }
            server { listen 127.0.0.1:1110; protocol pop3; starttls on; }
            server { listen 127.0.0.1:1025; protocol smtp; starttls only; }
            """).get()
        let imap = plan.listeners[0].settings, pop3 = plan.listeners[1].settings, smtp = plan.listeners[2].settings
        #expect(imap.imap.starttls == .only && !imap.imap.tlsActive)
        #expect(pop3.pop3.starttls == .on && !pop3.pop3.tlsActive)
        #expect(smtp.smtp.starttls == .only && !smtp.smtp.tlsActive)
        #expect(imap.clientTLS?.implicit == false)
        #expect(smtp.clientTLS != nil)
    }

    /// `listen ... ssl` marks TLS active from the start and asks for the handshake first.
    @Test func implicitTLSListener() throws {
        let plan = try Self.plan("""
            server { listen 127.0.0.1:1993 ssl; protocol imap; ssl_verify_client optional;
                     ssl_client_certificate \(TLSTestCerts.directory)/ca.pem; auth_http_pass_client_cert on; }
            """).get()
        let settings = plan.listeners[0].settings
        #expect(settings.imap.tlsActive)
        #expect(settings.clientTLS?.implicit == true)
        #expect(settings.clientTLS?.verifyClient == .optional)
        #expect(settings.clientTLS?.passClientCertificate == true)
    }

    /// A server without `listen ssl` or `starttls` gets no TLS, whatever ssl_* it inherits.
    @Test func plaintextServerHasNoTLS() throws {
        let plan = try Self.plan("server { listen 127.0.0.1:1143; protocol imap; }").get()
        #expect(plan.listeners[0].settings.clientTLS == nil)
        #expect(plan.listeners[0].settings.backendTLS == nil)
    }

    /// A certificate that does not load fails the plan (and `-t`) naming the file and the server block.
    @Test func badCertificateNamesFileAndServer() throws {
        let result = Self.plan("""
            server { listen 127.0.0.1:1993 ssl; protocol imap;
                     ssl_certificate /nonexistent/cert.pem; ssl_certificate_key /nonexistent/cert.key; }
            """)
        guard case .failure(let failure) = result else {
            Issue.record("a missing certificate was accepted")
            return
        }
        #expect(failure.description.contains("/nonexistent/cert.pem"))
        #expect(failure.description.contains("/etc/postern/postern.conf:8"))
    }

    /// Two ssl server blocks on one address become one listener; SNI picks the second by its server_name.
    @Test func sslServersShareAnAddressBySNI() throws {
        let certs = TLSTestCerts.directory
        let plan = try Self.plan("""
            server { listen 127.0.0.1:1993 ssl; protocol imap; server_name mail.test; timeout 5s; }
            server { listen 127.0.0.1:1993 ssl; protocol imap; server_name other.test; timeout 7s;
                     ssl_certificate \(certs)/other.pem; ssl_certificate_key \(certs)/other.key; }
            """).get()
        #expect(plan.listeners.count == 1)
        let settings = plan.listeners[0].settings
        #expect(settings.serverName == "mail.test")
        #expect(settings.sniServers.map(\.name) == ["other.test"])
        #expect(settings.selected(byServerName: "other.test").timeoutMillis == 7000)
        #expect(settings.selected(byServerName: nil).timeoutMillis == 5000)
        #expect(settings.clientTLS?.contexts.named.map(\.name) == ["other.test"])
    }

    /// Sharing an address needs distinct server_names; otherwise nginx's duplicate error stays.
    @Test func sharingNeedsDistinctNames() {
        let result = Self.plan("""
            server { listen 127.0.0.1:1993 ssl; protocol imap; server_name mail.test; }
            server { listen 127.0.0.1:1993 ssl; protocol imap; server_name MAIL.test; }
            """)
        guard case .failure(let failure) = result else {
            Issue.record("two blocks with one name shared an address")
            return
        }
        #expect(failure.description.contains("duplicate \"127.0.0.1:1993\" address and port pair"))
    }

    /// A plaintext listen on an address another block uses is nginx's duplicate error.
    @Test func plaintextCannotShare() {
        let result = Self.plan("""
            server { listen 127.0.0.1:1993 ssl; protocol imap; server_name mail.test; }
            server { listen 127.0.0.1:1993; protocol imap; server_name other.test; }
            """)
        guard case .failure(let failure) = result else {
            Issue.record("a plaintext listen shared an ssl address")
            return
        }
        #expect(failure.description.contains("duplicate \"127.0.0.1:1993\" address and port pair"))
    }

    /// ssl_* directives, starttls and auth_http_pass_client_cert are no longer reported as unsupported.
    @Test func sslDirectivesAreImplemented() throws {
        let plan = try Self.plan("server { listen 127.0.0.1:1993 ssl; protocol imap; }",
                                 mail: "ssl_session_timeout 10m; ssl_protocols TLSv1.2 TLSv1.3; starttls off;")
            .get()
        #expect(!plan.startupWarnings.contains { $0.contains("ssl_") || $0.contains("starttls") })
    }
}

/// `proxy_ssl` in the plan: a client context per server block, the name to check.
@Suite struct PlannerProxySSLTests {
    /// `proxy_ssl on` with verification builds a client context and keeps proxy_ssl_name.
    @Test func proxySSLBuildsClientContext() throws {
        let certs = TLSTestCerts.directory
        let plan = try PlannerTLSTests.plan("""
            server { listen 127.0.0.1:1143; protocol imap; proxy_ssl on; proxy_ssl_verify on;
                     proxy_ssl_trusted_certificate \(certs)/ca.pem; proxy_ssl_name backend.test; }
            """).get()
        let backend = try #require(plan.listeners[0].settings.backendTLS)
        #expect(backend.name == "backend.test")
        #expect(backend.context.settings.verify)
        #expect(!plan.startupWarnings.contains { $0.contains("proxy_ssl") })
    }

    /// A trusted CA file that does not load fails the plan naming it.
    @Test func badTrustedCertificateFails() {
        let result = PlannerTLSTests.plan("""
            server { listen 127.0.0.1:1143; protocol imap; proxy_ssl on; proxy_ssl_verify on;
                     proxy_ssl_trusted_certificate /nonexistent/ca.pem; }
            """)
        guard case .failure(let failure) = result else {
            Issue.record("a missing CA file was accepted")
            return
        }
        #expect(failure.description.contains("/nonexistent/ca.pem"))
        #expect(failure.description.contains("proxy_ssl"))
    }
}
