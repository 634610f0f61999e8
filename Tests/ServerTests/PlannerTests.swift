import Testing
@testable import Server

@Suite struct PlannerTests {
    static let text = """
        error_log /tmp/postern-planner-test.log info;
        pid /tmp/postern-planner-test.pid;
        events { worker_connections 64; multi_accept on; }
        mail {
            server_name mail.example.test;
            ssl_session_timeout 10m;
            auth_http 127.0.0.1:9000/auth;
            proxy_buffer 32k;
            imap_capabilities IMAP4rev1 IDLE;
            imap_auth plain cram-md5;
            server { listen 127.0.0.1:1143; protocol imap; timeout 5s; }
            server { listen [::1]:1993; protocol imap; proxy_pass_error_message on; }
        }
        """

    static func plan() throws -> RuntimePlan {
        let config = try parseConfig(text: text, file: "/etc/postern/postern.conf").get()
        let log = ErrorLog.stderr(level: .emerg)
        let (targets, _) = ConfigPlanner.logTargets(config.main.errorLogs)
        return try ConfigPlanner.plan(config, mainLog: log, mainTargets: targets).get()
    }

    /// Each listen of an IMAP server becomes a listener with its server's settings.
    @Test func listenersCarryServerSettings() throws {
        let plan = try Self.plan()
        #expect(plan.listeners.map { $0.address.description } == ["127.0.0.1:1143", "[::1]:1993"])
        let first = plan.listeners[0].settings
        #expect(first.timeoutMillis == 5000)
        #expect(first.relay.bufferSize == 32 * 1024)
        #expect(first.imap.capabilities == ["IMAP4rev1", "IDLE"])
        #expect(first.imap.authMethods == [.plain, .cramMD5])
        #expect(first.authURL.description.contains("127.0.0.1:9000"))
        #expect(first.passErrorMessage == false)
        #expect(plan.listeners[1].settings.passErrorMessage == true)
    }

    /// Accepted-but-unimplemented directives become start-up warnings with FILE:LINE.
    @Test func unimplementedDirectivesAreNamed() throws {
        let plan = try Self.plan()
        #expect(plan.startupWarnings.contains(
            "\"multi_accept\" directive is not supported yet, ignored in /etc/postern/postern.conf:3"))
    }

    /// The main error_log and pid file come from the main context.
    @Test func mainContextValues() throws {
        let plan = try Self.plan()
        #expect(plan.pidPath == "/tmp/postern-planner-test.pid")
        #expect(plan.logTargets == [LogTarget(.file(path: "/tmp/postern-planner-test.log"), level: .info)])
    }

    /// A login is logged with control bytes and quotes escaped, so a client cannot forge log lines.
    @Test func loginsAreEscapedForLogs() {
        #expect(printable(Array("bob".utf8)) == "bob")
        #expect(printable(Array("a\"b\r\nc".utf8)) == "a\\x22b\\x0D\\x0Ac")
    }
}
