import AuthCache
import Protocols

/// TLS in the shared session core: the client handshake (implicit before the
/// greeting, or after STARTTLS/STLS), nginx's client certificate check, the
/// Auth-SSL-* headers, and TLS to the backend with `proxy_ssl on`.
extension ProxySessionCore {
    /// `listen ... ssl`: the handshake before the greeting, bounded by
    /// `timeout`. SNI may choose another server block sharing the address;
    /// the session then runs with that block's settings. false: the session
    /// is closed.
    mutating func acceptImplicitTLS() -> Bool {
        guard let tls = settings.clientTLS, tls.implicit else { return true }
        guard let stream = handshake(tls.contexts) else { return false }
        if let name = stream.selectedName {
            log.debug("SNI \"\(stream.requestedServerName ?? name)\" selected server \"\(name)\"")
            adopt(settings.selected(byServerName: name))
        }
        return checkClientCertificate(stream)
    }

    /// STARTTLS/STLS was answered: the handshake, then nginx's certificate
    /// check. The caller then tells the session (`tlsEstablished`), which
    /// forgets everything learned before TLS. false: the session is closed.
    mutating func startTLS() -> Bool {
        guard let tls = settings.clientTLS, client.tls == nil else {
            // The sessions offer STARTTLS only when `starttls` is on, which builds the contexts.
            log.error("STARTTLS requested but TLS is not configured")
            _ = send(settings.mailProtocol.internalServerErrorReply)
            close(reason: "internal error", level: .info)
            return false
        }
        guard let stream = handshake(tls.contexts) else { return false }
        return checkClientCertificate(stream)
    }

    /// The server-side handshake; a failure, stall or garbage is logged at
    /// info, as nginx logs client-side SSL errors, and closes the session.
    private mutating func handshake(_ contexts: TLSServerContextSet) -> TLSStream? {
        log.set(action: "SSL handshaking")
        defer { log.set(action: "in auth state") }
        do throws(TLSError) {
            let stream = try client.startTLS(contexts: contexts, deadline: .after(millis: settings.timeoutMillis))
            tlsVersion = stream.protocolVersion
            log.debug("SSL handshake done: \(stream.protocolVersion) \(stream.cipherName)"
                + (stream.sessionReused ? " (reused)" : ""))
            return stream
        } catch {
            outcome = "tls-failed"
            log.info("SSL handshake failed: \(Self.handshakeDetail(error))")
            close(reason: "SSL handshake failed", level: nil)
            return nil
        }
    }

    static func handshakeDetail(_ error: TLSError) -> String {
        switch error {
        case .handshake(let reason), .protocolError(let reason), .config(let reason): return reason
        case .timedOut: return "client timed out"
        case .closed: return "client closed connection"
        case .io(let e): return "\(e)"
        }
    }

    /// nginx's check after every handshake (ngx_mail_verify_cert): with
    /// `ssl_verify_client` on or optional, a certificate that failed
    /// verification gets the protocol's "SSL certificate error" reply and the
    /// session ends; with `on`, so does a missing certificate ("No required
    /// SSL certificate"). The TLS layer drops a refused session from the
    /// cache, so it cannot be resumed past the check. false: the session is closed.
    private mutating func checkClientCertificate(_ stream: TLSStream) -> Bool {
        guard let tls = settings.clientTLS else { return true }
        switch stream.checkClientCertificate(tls.verifyClient) {
        case .accepted:
            return true
        case .verifyError(let code, let message):
            outcome = "rejected"
            log.info("client SSL certificate verify error: (\(code):\(message))")
            _ = send(settings.mailProtocol.sslCertificateErrorReply)
            close(reason: "client SSL certificate verify error", level: nil)
            return false
        case .noCertificate:
            outcome = "rejected"
            log.info("client sent no required SSL certificate")
            _ = send(settings.mailProtocol.sslCertificateRequiredReply)
            close(reason: "client sent no required SSL certificate", level: nil)
            return false
        }
    }

    /// The Auth-SSL-* headers as nginx sends them: protocol and cipher on any
    /// TLS connection; verify result and certificate fields only when
    /// `ssl_verify_client` is not off; the PEM only with
    /// `auth_http_pass_client_cert on`. nil on a plaintext connection.
    var authSSLInfo: AuthSSLInfo? {
        guard let stream = client.tls else { return nil }
        var info = AuthSSLInfo(protocolVersion: stream.protocolVersion, cipher: stream.cipherName)
        guard let tls = settings.clientTLS, tls.verifyClient != .off else { return info }
        info.verify = stream.clientVerify
        if let certificate = stream.clientCertificate {
            info.subject = certificate.subject
            info.issuer = certificate.issuer
            info.serial = certificate.serial
            info.fingerprint = certificate.fingerprint
            if tls.passClientCertificate { info.certificate = Array(certificate.pem.utf8) }
        }
        return info
    }

    /// `proxy_ssl on`: the TLS handshake with the backend after the TCP
    /// connect (and PROXY header), before its greeting. The name checked and
    /// sent is `proxy_ssl_name`, else the upstream's address as the auth
    /// service gave it; it goes into SNI only with `proxy_ssl_server_name on`.
    /// A failure is the backend's: internal server error to the client, an
    /// error line, both sides closed. false: the session is closed.
    mutating func connectBackendTLS(_ backend: SessionConnection, auth: AuthAccepted) -> Bool {
        guard let tls = settings.backendTLS else { return true }
        log.set(action: "SSL handshaking to upstream")
        let name = tls.name ?? auth.server.hostText
        do throws(TLSError) {
            try backend.connectTLS(context: tls.context, serverName: name, sendServerName: tls.sendServerName,
                                   deadline: .after(millis: settings.timeoutMillis))
            log.debug("upstream SSL handshake done: \(backend.tls?.protocolVersion ?? "")")
        } catch {
            upstreamFailed(backend, "upstream SSL handshake failed: \(Self.handshakeDetail(error))",
                           error: nil)
            return false
        }
        log.set(action: "reading response from upstream")
        return true
    }
}
