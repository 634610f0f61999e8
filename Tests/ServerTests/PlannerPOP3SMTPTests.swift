import Testing
@testable import Server

/// POP3 and SMTP servers are planned like IMAP ones, with their own settings.
@Suite struct PlannerPOP3SMTPTests {
    static let text = """
        error_log /tmp/postern-planner-pop3smtp-test.log info;
        events {}
        mail {
            server_name mail.example.test;
            auth_http 127.0.0.1:9000/auth;
            server { listen 127.0.0.1:1110; protocol pop3; pop3_auth plain apop; max_line_length 2k;
                     pop3_capabilities TOP UIDL; max_errors 3; }
            server { listen 127.0.0.1:1025; protocol smtp; smtp_auth login cram-md5 none;
                     smtp_capabilities SIZE PIPELINING; smtp_client_buffer 8k; smtp_greeting_delay 250ms;
                     xclient off; proxy_smtp_auth on; }
        }
        """

    static func plan() throws -> RuntimePlan {
        let file = "/etc/postern/postern.conf"
        let config = try parseConfig(
            prefix: PosternDefaults.prefix, configFile: file,
            environment: InMemoryConfigEnvironment(files: [file: text], hostname: "localhost"),
            implementedDirectives: implementedDirectives).get()
        let (targets, _) = ConfigPlanner.logTargets(config.main.errorLogs)
        return try ConfigPlanner.plan(config, mainLog: ErrorLog.stderr(level: .emerg), mainTargets: targets).get()
    }

    /// A pop3 server gets a listener; its line limit is max_line_length, not nginx's 128 bytes.
    @Test func pop3Listener() throws {
        let plan = try Self.plan()
        let pop3 = try #require(plan.listeners.first { $0.settings.mailProtocol == .pop3 }).settings
        #expect(pop3.pop3.clientBufferSize == 2048)
        #expect(pop3.pop3.authMethods.contains(.apop))
        #expect(pop3.pop3.capabilities == ["TOP", "UIDL"])
        #expect(pop3.pop3.maxErrors == 3)
    }

    /// An smtp server gets a listener with its capabilities, methods, buffer, greeting delay and backend options.
    @Test func smtpListener() throws {
        let plan = try Self.plan()
        let smtp = try #require(plan.listeners.first { $0.settings.mailProtocol == .smtp }).settings
        #expect(smtp.smtp.serverName == "mail.example.test")
        #expect(smtp.smtp.capabilities == ["SIZE", "PIPELINING"])
        #expect(smtp.smtp.authMethods == [.login, .cramMD5, .none])
        #expect(smtp.smtp.clientBufferSize == 8192)
        #expect(smtp.smtpGreetingDelayMillis == 250)
        #expect(smtp.xclient == false)
        #expect(smtp.proxySMTPAuth == true)
    }

    /// The directives the POP3 and SMTP drivers act on are no longer reported as unsupported.
    @Test func directivesAreImplemented() throws {
        let plan = try Self.plan()
        for name in ["pop3_auth", "pop3_capabilities", "max_line_length", "smtp_auth", "smtp_capabilities",
                     "smtp_client_buffer", "smtp_greeting_delay", "xclient", "proxy_smtp_auth"] {
            #expect(!plan.startupWarnings.contains { $0.hasPrefix("\"\(name)\"") }, "\(name)")
        }
        #expect(!plan.startupWarnings.contains { $0.contains("protocol") })
    }
}
