import Foundation
import Testing

/// POP3 (Dovecot) and SMTP (Postfix with XCLIENT) over implicit TLS and
/// STLS/STARTTLS through Postern, with `starttls only` and the injection case.
@Suite("TLS: POP3 and SMTP through Postern", .serialized, .enabled(if: PosternBinary.canProxy && !PosternBinary.isNginxOracle,
                                                      "postern cannot proxy yet"))
struct TLSPOP3SMTPTests {
    /// poplib logs in over implicit TLS (995-style) and over STLS; STLS is offered before TLS only.
    @Test(arguments: ["ssl", "starttls"])
    func poplib(mode: String) async throws {
        let stack = try await TLSStack(protocol: "pop3", listenParameters: mode == "ssl" ? "ssl" : "",
                                       serverExtra: mode == "ssl" ? "" : "starttls on;")
        defer { stack.stop() }
        let result = try await stack.tlsClient(["login", "pop3", mode, "127.0.0.1", stack.port, "alice", "wonderland",
                                                "--ca", stack.ca])
        #expect(result.json["exists"] as? Int == 3, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        if mode == "starttls" {
            #expect((result.json["before"] as? [String] ?? []).contains("STLS"))
        }
        #expect(!(result.json["after"] as? [String] ?? []).contains("STLS"))
        #expect(try stack.lastAuthHeaders()["Auth-SSL"] == "on")
    }

    /// smtplib logs in over implicit TLS (465-style) and after STARTTLS; STARTTLS is offered before TLS only.
    @Test(arguments: ["ssl", "starttls"])
    func smtplib(mode: String) async throws {
        let stack = try await TLSStack(protocol: "smtp", listenParameters: mode == "ssl" ? "ssl" : "",
                                       serverExtra: mode == "ssl" ? "smtp_auth plain login;"
                                           : "smtp_auth plain login; starttls only;",
                                       postfix: true)
        defer { stack.stop() }
        let result = try await stack.tlsClient(["login", "smtp", mode, "127.0.0.1", stack.port, "alice", "wonderland",
                                                "--ca", stack.ca])
        #expect(result.json["exists"] as? Int == 250, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        if mode == "starttls" {
            #expect((result.json["before"] as? [String] ?? []).contains("starttls"))
            #expect(!(result.json["before"] as? [String] ?? []).contains("auth"), "starttls only hides AUTH before TLS")
        }
        #expect(!(result.json["after"] as? [String] ?? []).contains("starttls"))
        #expect((result.json["after"] as? [String] ?? []).contains("auth"))
    }

    /// `starttls only`: POP3 refuses USER and AUTH before STLS, SMTP refuses AUTH before STARTTLS, as nginx does.
    @Test(arguments: ["pop3", "smtp"])
    func starttlsOnlyRefusesPlaintext(proto: String) async throws {
        let stack = try await TLSStack(protocol: proto, serverExtra: "starttls only;")
        defer { stack.stop() }
        let result = try await stack.tlsClient(["plain", proto, "127.0.0.1", stack.port, "alice", "wonderland"])
        let login = result.json["login_answer"] as? String ?? ""
        if proto == "pop3" {
            #expect((result.json["capabilities"] as? String)?.contains("STLS") == true, "\(result.stdout)")
            #expect(login.hasPrefix("-ERR"), "\(result.stdout)")
            #expect((result.json["auth_answer"] as? String)?.hasPrefix("-ERR") == true, "\(result.stdout)")
        } else {
            #expect((result.json["capabilities"] as? String)?.contains("STARTTLS") == true, "\(result.stdout)")
            // nginx treats AUTH before STARTTLS under `starttls only` as an invalid command.
            #expect(login.hasPrefix("500 5.5.1"), "\(result.stdout)")
        }
        #expect(try stack.env.authRequests().isEmpty)
    }

    /// A command pipelined behind STLS / STARTTLS in the same write is never answered over TLS.
    @Test(arguments: ["pop3", "smtp"])
    func startTLSInjectionIsDiscarded(proto: String) async throws {
        let stack = try await TLSStack(protocol: proto, serverExtra: "starttls on;")
        defer { stack.stop() }
        let result = try await stack.tlsClient(["inject", proto, "127.0.0.1", stack.port, "--ca", stack.ca])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(stack.postern.logs())")
        let answer = result.json["starttls_answer"] as? String ?? ""
        #expect(answer.hasPrefix(proto == "pop3" ? "+OK" : "220"), "\(result.stdout)")
        #expect(result.json["injected_answered"] as? Bool == false, "\(result.stdout)")
    }

    /// ssl_verify_client on without a certificate: POP3 and SMTP get nginx's "No required SSL certificate" reply.
    @Test(arguments: ["pop3", "smtp"])
    func missingClientCertificate(proto: String) async throws {
        let stack = try await TLSStack(protocol: proto, listenParameters: "ssl", serverExtra: """
                ssl_verify_client on;
                ssl_client_certificate @CERTS@/ca.pem;
            """)
        defer { stack.stop() }
        let result = try await stack.tlsClient(["cert", "127.0.0.1", stack.port, "alice", "--ca", stack.ca])
        let expected = proto == "pop3" ? "-ERR No required SSL certificate\r\n"
            : "421 4.7.1 No required SSL certificate\r\n"
        #expect(result.json["first"] as? String == expected, "\(result.stdout)\n\(stack.postern.logs())")
        let rogue = try await stack.tlsClient(["cert", "127.0.0.1", stack.port, "alice", "--ca", stack.ca,
                                               "--cert", stack.certs + "/rogue-client.pem",
                                               "--key", stack.certs + "/rogue-client.key"])
        let error = proto == "pop3" ? "-ERR SSL certificate error\r\n" : "421 4.7.1 SSL certificate error\r\n"
        #expect(rogue.json["first"] as? String == error, "\(rogue.stdout)")
    }
}
