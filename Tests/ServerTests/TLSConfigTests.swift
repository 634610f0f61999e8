import Foundation
import Testing
@testable import Server

@Suite struct TLSConfigTests {
    static func configError(_ settings: SSLSettings) -> String? {
        do {
            _ = try TLSServerContext(settings: settings)
            return nil
        } catch {
            if case .config(let m) = error { return m }
            return "unexpected \(error)"
        }
    }

    /// An encrypted key opens with ssl_password_file, whose second line is the right password.
    @Test func encryptedKeyWithPasswordFile() throws {
        let settings = tlsServerSettings([("mail-rsa.pem", "mail-rsa-enc.key")]) { $0.passwordFile = TLSTestCerts.path("passwords.txt") }
        let (server, client) = try tlsConnected(server: try tlsContextSet(settings), client: try tlsClient())
        #expect(server.protocolVersion == "TLSv1.3")
        server.close(); client.close()
    }

    /// One file holding certificate, chain and key serves as both ssl_certificate and ssl_certificate_key.
    @Test func combinedCertificateAndKeyFile() throws {
        let combined = TLSTestCerts.directory + "/combined.pem"
        let text = try ["mail-rsa.pem", "ca.pem", "mail-rsa.key"].map { try String(contentsOfFile: TLSTestCerts.path($0), encoding: .utf8) }.joined()
        try text.write(toFile: combined, atomically: true, encoding: .utf8)
        var settings = SSLSettings()
        settings.certificates = [combined]
        settings.certificateKeys = [combined]
        let (server, client) = try tlsConnected(server: try tlsContextSet(settings), client: try tlsClient())
        #expect(client.peerCertificate?.subject == "CN=mail.test,O=Postern Test")
        server.close(); client.close()
    }

    /// An encrypted key without a password file fails (never prompts) and names the key file.
    @Test func encryptedKeyWithoutPassword() {
        let path = TLSTestCerts.path("mail-rsa-enc.key")
        let m = Self.configError(tlsServerSettings([("mail-rsa.pem", "mail-rsa-enc.key")]))
        #expect(m?.hasPrefix("cannot load certificate key \"\(path)\": PEM_read_bio_PrivateKey() failed") == true)
    }

    /// A missing certificate file is a config error naming it, with OpenSSL's reason.
    @Test func missingCertificate() {
        let m = Self.configError(tlsServerSettings([("nope.pem", "mail-rsa.key")]))
        let path = TLSTestCerts.path("nope.pem")
        #expect(m?.hasPrefix("cannot load certificate \"\(path)\": BIO_new_file() failed (SSL: error:") == true)
    }

    /// A key that does not match its certificate is refused, naming the key file.
    @Test func mismatchedKey() {
        let m = Self.configError(tlsServerSettings([("mail-rsa.pem", "other.key")]))
        #expect(m?.hasPrefix("SSL_CTX_use_PrivateKey(\"\(TLSTestCerts.path("other.key"))\") failed") == true)
    }

    /// A file that is not a PEM key names the file and the PEM function.
    @Test func garbageKey() {
        let m = Self.configError(tlsServerSettings([("mail-rsa.pem", "ticket1.key")]))
        #expect(m?.hasPrefix("cannot load certificate key \"\(TLSTestCerts.path("ticket1.key"))\": PEM_read_bio_PrivateKey() failed") == true)
    }

    /// No certificate at all, or more certificates than keys, is refused.
    @Test func certificateKeyCount() {
        #expect(Self.configError(SSLSettings()) == "no \"ssl_certificate\" is defined")
        var s = tlsServerSettings()
        s.certificateKeys = []
        #expect(Self.configError(s)?.hasPrefix("no \"ssl_certificate_key\" is defined") == true)
    }

    /// ssl_dhparam, ssl_ecdh_curve, ssl_ciphers, ssl_prefer_server_ciphers and ssl_conf_command apply; bad values name themselves.
    @Test func otherDirectives() throws {
        let good = tlsServerSettings {
            $0.dhparam = TLSTestCerts.path("dhparam.pem")
            $0.ecdhCurve = "X25519:prime256v1"
            $0.ciphers = "ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256"
            $0.preferServerCiphers = true
            $0.protocols = ["TLSv1.2"]
            $0.confCommands = [(name: "Options", value: "-SessionTicket")]
        }
        let set = try tlsContextSet(good)
        let (server, client) = try tlsConnected(server: set, client: try tlsClient { $0.protocols = ["TLSv1.2"]; $0.ciphers = "DHE-RSA-AES128-GCM-SHA256" })
        #expect(server.cipherName == "DHE-RSA-AES128-GCM-SHA256")
        server.close(); client.close()
        #expect(Self.configError(tlsServerSettings { $0.ecdhCurve = "nonsense" })?.hasPrefix("SSL_CTX_set1_curves_list(\"nonsense\") failed") == true)
        #expect(Self.configError(tlsServerSettings { $0.ciphers = "NOPE" })?.hasPrefix("SSL_CTX_set_cipher_list(\"NOPE\") failed") == true)
        #expect(Self.configError(tlsServerSettings { $0.confCommands = [(name: "Bogus", value: "x")] })?.hasPrefix("SSL_CONF_cmd(\"Bogus\", \"x\") failed") == true)
        #expect(Self.configError(tlsServerSettings { $0.dhparam = TLSTestCerts.path("ca.pem") })?.hasPrefix("PEM_read_bio_DHparams(") == true)
    }

    /// A ticket key file that is neither 48 nor 80 bytes is refused.
    @Test func ticketKeySize() {
        #expect(Self.configError(tlsServerSettings { $0.sessionTicketKeys = [TLSTestCerts.path("ca.pem")] })?.contains("must be 48 or 80 bytes") == true)
    }

    /// Password file lines: CR/LF stripped, empty lines skipped, an empty file refused.
    @Test func passwordFileLines() throws {
        let path = TLSTestCerts.directory + "/pw-crlf.txt"
        try "one\r\n\r\ntwo\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try TLSContextLoading.readPasswords(path) == ["one", "two"])
        let empty = TLSTestCerts.directory + "/pw-empty.txt"
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        #expect(throws: TLSError.self) { _ = try TLSContextLoading.readPasswords(empty) }
    }

    /// The OpenSSL error queue is left empty after a failed context.
    @Test func errorQueueCleared() {
        _ = Self.configError(tlsServerSettings([("nope.pem", "mail-rsa.key")]))
        #expect(OpenSSLErrors.drainReason() == nil)
    }
}
