import Protocols

/// Inheritance as nginx's merge functions do it: a value set in `server`
/// wins, else the `mail` block's, else the default. Lists (capabilities,
/// auth methods, headers, certificates) are replaced whole, never joined.
extension ConfigInterpreter {
    func resolveMain() -> MainSettings {
        var m = MainSettings()
        if let logs = main.errorLogs { m.errorLogs = logs }
        if let pid = main.string("pid") { m.pidPath = resolvePath(pid, against: prefix) }
        if let (u, g) = user { m.user = u; m.group = g }
        m.daemon = main.flag("daemon") ?? true
        m.masterProcess = main.flag("master_process") ?? true
        m.workerProcesses = workerProcesses ?? .count(1)
        m.workerCPUAffinity = workerCPUAffinity
        m.workerShutdownTimeout = main.time("worker_shutdown_timeout")
        m.workerRlimitNofile = main.number("worker_rlimit_nofile")
        m.workerRlimitCore = main.bytes("worker_rlimit_core")
        m.workingDirectory = main.string("working_directory")
        m.timerResolution = main.time("timer_resolution")
        m.env = main.strings("env") ?? []
        m.loadModules = main.strings("load_module") ?? []
        m.workerConnections = main.number("worker_connections") ?? 512
        m.eventsMethod = main.string("use")
        m.multiAccept = main.flag("multi_accept") ?? false
        return m
    }

    func resolveMail() -> MailSettings? {
        guard let mail else { return nil }
        var s = MailSettings()
        s.sessionPoolThreads = mail.number("session_pool_threads") ?? 64
        s.sessionPoolQueue = mail.number("session_pool_queue") ?? 256
        s.relayThreads = mail.number("relay_threads") ?? 2
        return s
    }

    /// Merges one server; nginx's merge-time errors are appended to `errors`
    /// (they carry their own "in FILE:LINE", as nginx prints them).
    mutating func resolveServer(_ index: Int, mainSettings: MainSettings) -> ServerSettings? {
        let scope = servers[index]
        let own = scope.values
        let parent = mail ?? ScopeValues()
        let whereText = "\(scope.file):\(scope.line)"
        var ok = true

        let firstWellKnown = scope.listens.lazy.compactMap { listen -> MailProtocol? in
            if case .inet(_, let port) = listen.address { return MailProtocol.forWellKnownPort(port) }
            return nil
        }.first
        let proto = scope.explicitProtocol ?? firstWellKnown
        if proto == nil {
            errors.append(ConfigError("unknown mail protocol for server in \(whereText)", at: .none))
            ok = false
        }
        let authHTTP = own.authHTTP ?? parent.authHTTP
        if authHTTP == nil {
            errors.append(ConfigError("no \"auth_http\" is defined for server in \(whereText)", at: .none))
            ok = false
        }

        func pick<T>(_ get: (ScopeValues) -> T?) -> T? { get(own) ?? get(parent) }
        func confPath(_ p: String) -> String {
            // Inline PEM ("data:") and per-connection variables stay as written.
            p.hasPrefix("data:") || p.contains("$") ? p : resolvePath(p, against: confPrefix)
        }

        var ssl = SSLSettings()
        ssl.certificates = (pick { $0.strings("ssl_certificate") } ?? []).map(confPath)
        ssl.certificateKeys = (pick { $0.strings("ssl_certificate_key") } ?? []).map(confPath)
        ssl.passwordFile = pick { $0.string("ssl_password_file") }.map(confPath)
        ssl.certificateCompression = pick { $0.flag("ssl_certificate_compression") } ?? false
        ssl.dhparam = pick { $0.string("ssl_dhparam") }.map(confPath)
        ssl.ecdhCurve = pick { $0.string("ssl_ecdh_curve") } ?? "auto"
        ssl.protocols = pick { $0.choices("ssl_protocols") } ?? ["TLSv1.2", "TLSv1.3"]
        ssl.ciphers = pick { $0.string("ssl_ciphers") } ?? "HIGH:!aNULL:!MD5"
        ssl.preferServerCiphers = pick { $0.flag("ssl_prefer_server_ciphers") } ?? false
        ssl.sessionCache = own.sslSessionCache ?? parent.sslSessionCache ?? .unset
        ssl.sessionTickets = pick { $0.flag("ssl_session_tickets") } ?? true
        ssl.sessionTicketKeys = (pick { $0.strings("ssl_session_ticket_key") } ?? []).map(confPath)
        ssl.sessionTimeoutSeconds = pick { $0.time("ssl_session_timeout") } ?? 300
        ssl.verifyClient = pick { $0.choice("ssl_verify_client") }.flatMap(SSLVerifyClient.init(rawValue:)) ?? .off
        ssl.verifyDepth = pick { $0.number("ssl_verify_depth") } ?? 1
        ssl.clientCertificate = pick { $0.string("ssl_client_certificate") }.map(confPath)
        ssl.trustedCertificate = pick { $0.string("ssl_trusted_certificate") }.map(confPath)
        ssl.crl = pick { $0.string("ssl_crl") }.map(confPath)
        ssl.confCommands = (pick { $0.pairs("ssl_conf_command") } ?? []).map { ($0[0], $0[1]) }
        let starttls = pick { $0.choice("starttls") }.flatMap(StartTLSMode.init(rawValue:)) ?? .off

        // nginx's ssl merge: a server that uses TLS must name its certificates.
        var tlsUse: (mode: String, location: ConfigLocation)?
        if let at = scope.sslListenLocation {
            tlsUse = ("listen ... ssl", at)
        } else if starttls != .off {
            tlsUse = ("starttls", own.slots["starttls"]?.location ?? parent.slots["starttls"]?.location ?? .none)
        }
        if let use = tlsUse {
            let at: String
            if case .file(let f, let l) = use.location { at = "\(f):\(l)" } else { at = "command line" }
            if ssl.certificates.isEmpty {
                errors.append(ConfigError("no \"ssl_certificate\" is defined for the \"\(use.mode)\" directive in \(at)", at: .none))
                ok = false
            } else if ssl.certificateKeys.isEmpty {
                errors.append(ConfigError("no \"ssl_certificate_key\" is defined for the \"\(use.mode)\" directive in \(at)", at: .none))
                ok = false
            } else if ssl.certificateKeys.count < ssl.certificates.count {
                let cert = ssl.certificates[ssl.certificateKeys.count]
                errors.append(ConfigError("no \"ssl_certificate_key\" is defined for certificate \"\(cert)\" and the \"\(use.mode)\" directive in \(at)", at: .none))
                ok = false
            }
            if ssl.verifyClient != .off && ssl.verifyClient != .optionalNoCA
                && ssl.clientCertificate == nil && ssl.trustedCertificate == nil {
                errors.append(ConfigError("no ssl_client_certificate or ssl_trusted_certificate for ssl_verify_client", at: .none))
                ok = false
            }
        }

        guard ok, let proto, let authHTTP else { return nil }

        var s = ServerSettings(protocolName: proto, serverName: "", authHTTP: authHTTP,
                               errorLogs: mainSettings.errorLogs, file: scope.file, line: scope.line)
        let name = pick { $0.string("server_name") } ?? ""
        s.serverName = name.isEmpty ? environment.hostname : name
        s.timeout = pick { $0.time("timeout") } ?? 60_000
        s.maxErrors = pick { $0.number("max_errors") } ?? 5
        s.errorLogs = own.errorLogs ?? parent.errorLogs ?? mainSettings.errorLogs
        s.resolver = (own.resolver ?? parent.resolver) ?? nil
        s.resolverTimeout = pick { $0.time("resolver_timeout") } ?? 30_000

        s.authHTTPHeaders = (pick { $0.pairs("auth_http_header") } ?? []).map { ($0[0], $0[1]) }
        s.authHTTPTimeout = pick { $0.time("auth_http_timeout") } ?? 60_000
        s.authHTTPPassClientCert = pick { $0.flag("auth_http_pass_client_cert") } ?? false

        s.proxy = pick { $0.flag("proxy") } ?? false
        s.proxyBuffer = pick { $0.bytes("proxy_buffer") } ?? 4096
        s.proxyTimeout = pick { $0.time("proxy_timeout") } ?? 24 * 60 * 60_000
        s.proxyPassErrorMessage = pick { $0.flag("proxy_pass_error_message") } ?? false
        s.xclient = pick { $0.flag("xclient") } ?? true
        s.proxySMTPAuth = pick { $0.flag("proxy_smtp_auth") } ?? false
        s.proxyProtocol = pick { $0.choice("proxy_protocol") }.flatMap(ProxyProtocolVersion.init(rawValue:)) ?? .off

        s.setRealIPFrom = own.realIPFrom ?? parent.realIPFrom ?? []
        s.starttls = starttls
        s.ssl = ssl

        var proxySSL = ProxySSLSettings()
        proxySSL.enabled = pick { $0.flag("proxy_ssl") } ?? false
        proxySSL.verify = pick { $0.flag("proxy_ssl_verify") } ?? false
        proxySSL.verifyDepth = pick { $0.number("proxy_ssl_verify_depth") } ?? 1
        proxySSL.trustedCertificate = pick { $0.string("proxy_ssl_trusted_certificate") }.map(confPath)
        proxySSL.name = pick { $0.string("proxy_ssl_name") }
        proxySSL.sendServerName = pick { $0.flag("proxy_ssl_server_name") } ?? false
        proxySSL.protocols = pick { $0.choices("proxy_ssl_protocols") } ?? ["TLSv1.2", "TLSv1.3"]
        proxySSL.ciphers = pick { $0.string("proxy_ssl_ciphers") } ?? "DEFAULT"
        proxySSL.certificate = pick { $0.string("proxy_ssl_certificate") }.map(confPath)
        proxySSL.certificateKey = pick { $0.string("proxy_ssl_certificate_key") }.map(confPath)
        proxySSL.passwordFile = pick { $0.string("proxy_ssl_password_file") }.map(confPath)
        if proxySSL.enabled {
            // As nginx's stream proxy: verifying needs something to verify against,
            // and a certificate needs its key.
            if proxySSL.verify && proxySSL.trustedCertificate == nil {
                errors.append(ConfigError("no proxy_ssl_trusted_certificate for proxy_ssl_verify in \(whereText)",
                                          at: .none))
            }
            if proxySSL.certificate != nil && proxySSL.certificateKey == nil {
                errors.append(ConfigError("no \"proxy_ssl_certificate_key\" is defined for certificate "
                    + "\"\(proxySSL.certificate ?? "")\" in \(whereText)", at: .none))
            }
        }
        s.proxySSL = proxySSL

        s.imapCapabilities = pick { $0.strings("imap_capabilities") } ?? ["IMAP4", "IMAP4rev1", "UIDPLUS"]
        s.imapAuth = Self.authMethods(pick { $0.choices("imap_auth") }) ?? [.plain]
        s.imapClientBuffer = pick { $0.bytes("imap_client_buffer") } ?? 4096
        s.pop3Capabilities = pick { $0.strings("pop3_capabilities") } ?? ["TOP", "USER", "UIDL"]
        var pop3 = Self.authMethods(pick { $0.choices("pop3_auth") }) ?? [.plain]
        // ngx_mail_pop3_module: plain also enables SASL LOGIN.
        if pop3.contains(.plain) { pop3.insert(.login) }
        s.pop3Auth = pop3
        s.smtpCapabilities = pick { $0.strings("smtp_capabilities") } ?? []
        s.smtpAuth = Self.authMethods(pick { $0.choices("smtp_auth") }) ?? [.plain, .login]
        s.smtpClientBuffer = pick { $0.bytes("smtp_client_buffer") } ?? 4096
        s.smtpGreetingDelay = pick { $0.time("smtp_greeting_delay") } ?? 0

        if let cache = pick({ $0.string("auth_cache") }), cache != "off" {
            s.authCachePath = resolvePath(cache, against: prefix)
        }
        s.authCacheTTL = pick { $0.time("auth_cache_ttl") } ?? 300_000
        s.authCacheFailTTL = pick { $0.time("auth_cache_fail_ttl") } ?? 60_000
        if let bits = pick({ $0.strings("auth_cache_client_prefix") }) {
            let v4 = Int(bits[0]), v6 = bits.count > 1 ? Int(bits[1]) : 64
            if bits.count <= 2, let v4, let v6, (0...32).contains(v4), (0...128).contains(v6) {
                s.authCacheClientPrefixV4 = v4
                s.authCacheClientPrefixV6 = v6
            } else {
                errors.append(ConfigError("invalid \"auth_cache_client_prefix\" in \(whereText): "
                    + "expected IPv4 bits 0..32 and IPv6 bits 0..128", at: .none))
            }
        }
        s.authThrottleFailures = pick { $0.number("auth_throttle_failures") } ?? 10
        s.authThrottleWindow = pick { $0.time("auth_throttle_window") } ?? 600_000
        s.authThrottleBan = pick { $0.time("auth_throttle_ban") } ?? 60_000
        s.authLedgerRetention = pick { $0.time("auth_ledger_retention") } ?? 30 * 86_400_000
        s.maxLineLength = pick { $0.bytes("max_line_length") } ?? 8192
        return s
    }

    static func authMethods(_ names: [String]?) -> Set<AuthMethod>? {
        guard let names else { return nil }
        return Set(names.compactMap { AuthMethod(rawValue: $0) })
    }
}
