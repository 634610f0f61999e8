import Testing
import Protocols
@testable import Server

/// `proxy_ssl*` are set in mail and inherited by a server, which may override them.
@Test func proxySSLInheritance() {
    let text = """
        events { }
        mail {
          auth_http 127.0.0.1:9000/auth;
          proxy_ssl on; proxy_ssl_verify on; proxy_ssl_trusted_certificate ca.pem;
          proxy_ssl_name backend.test; proxy_ssl_server_name on; proxy_ssl_protocols TLSv1.3;
          server { listen 127.0.0.1:1143; protocol imap; }
          server { listen 127.0.0.1:1144; protocol imap; proxy_ssl off; proxy_ssl_verify_depth 3; }
        }
        """
    guard let c = parsedConfig(text) else { return }
    let a = c.servers[0].proxySSL, b = c.servers[1].proxySSL
    #expect(a.enabled && a.verify && a.sendServerName)
    #expect(a.trustedCertificate?.hasSuffix("/ca.pem") == true)
    #expect(a.name == "backend.test")
    #expect(a.protocols == ["TLSv1.3"])
    #expect(a.verifyDepth == 1)
    #expect(a.ciphers == "DEFAULT")
    #expect(!b.enabled && b.verify && b.verifyDepth == 3)
}

/// nginx's defaults: no TLS to the backend unless asked.
@Test func proxySSLDefaultsOff() {
    let text = "events { } mail { auth_http 127.0.0.1:9000/a; server { listen 127.0.0.1:1143; protocol imap; } }"
    guard let c = parsedConfig(text) else { return }
    #expect(c.servers[0].proxySSL == ProxySSLSettings())
}

/// Verifying with nothing to verify against, or a certificate without its key, is a config error.
@Test func proxySSLMissingFilesAreErrors() {
    let errors = configErrors("""
        events { } mail { auth_http 127.0.0.1:9000/a;
          server { listen 127.0.0.1:1143; protocol imap; proxy_ssl on; proxy_ssl_verify on;
                   proxy_ssl_certificate c.pem; } }
        """)
    #expect(errors.contains { $0.contains("no proxy_ssl_trusted_certificate for proxy_ssl_verify") })
    #expect(errors.contains { $0.contains("no \"proxy_ssl_certificate_key\" is defined for certificate") })
}
