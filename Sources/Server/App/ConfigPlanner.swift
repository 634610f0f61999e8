import AuthCache
import Protocols

/// Directives Postern acts on in this build. The config layer reports every
/// other accepted directive as "not supported yet" at start.
let implementedDirectives: Set<String> = PosternConfig.defaultImplementedDirectives
    .subtracting(["worker_connections", "proxy"])
    .union(["worker_processes", "worker_cpu_affinity", "events", "env", "load_module", "master_process"])
    .union(["resolver", "resolver_timeout", "set_real_ip_from", "proxy_protocol", "listen proxy_protocol"])
    .union(["auth_cache", "auth_cache_ttl", "auth_cache_fail_ttl", "auth_cache_client_prefix",
            "auth_throttle_failures", "auth_throttle_window", "auth_throttle_ban", "auth_ledger_retention"])
    .union(["pop3_capabilities", "pop3_auth", "smtp_capabilities", "smtp_auth", "smtp_client_buffer",
            "smtp_greeting_delay", "xclient", "proxy_smtp_auth"])
    .union(["listen ssl", "starttls", "auth_http_pass_client_cert",
            "ssl_certificate", "ssl_certificate_key", "ssl_password_file",
            "ssl_dhparam", "ssl_ecdh_curve", "ssl_protocols", "ssl_ciphers", "ssl_prefer_server_ciphers",
            "ssl_session_cache", "ssl_session_tickets", "ssl_session_ticket_key", "ssl_session_timeout",
            "ssl_verify_client", "ssl_verify_depth", "ssl_client_certificate", "ssl_trusted_certificate",
            "ssl_crl", "ssl_conf_command"])
    .union(["proxy_ssl", "proxy_ssl_verify", "proxy_ssl_verify_depth", "proxy_ssl_trusted_certificate",
            "proxy_ssl_name", "proxy_ssl_server_name", "proxy_ssl_protocols", "proxy_ssl_ciphers",
            "proxy_ssl_certificate", "proxy_ssl_certificate_key", "proxy_ssl_password_file"])

/// Turns a checked configuration into what the runtime opens and serves.
/// Opens server-level error logs, so it can fail like start-up does.
enum ConfigPlanner {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func logTargets(_ specs: [ErrorLogSpec]) -> (targets: [LogTarget], ignored: [String]) {
        var targets: [LogTarget] = []
        var ignored: [String] = []
        for spec in specs {
            let level = LogLevel(name: spec.level.rawValue) ?? .error
            switch spec.target {
            case .stderr: targets.append(LogTarget(.stderr, level: level))
            case .file(let path): targets.append(LogTarget(.file(path: path), level: level))
            case .syslog(let what): ignored.append("syslog:\(what)")
            case .memory: ignored.append("memory")
            }
        }
        return (targets, ignored)
    }

    static func plan(_ config: PosternConfig, mainLog: ErrorLog, mainTargets: [LogTarget]) -> Result<RuntimePlan, Failure> {
        var warnings: [String] = config.notSupportedYet.map {
            ConfigError("\"\($0.name)\" directive is not supported yet, ignored", at: $0.location).description
        }
        warnings += config.warnings.map { $0.description }
        var serverLogs: [(targets: [LogTarget], log: ErrorLog)] = []
        var listeners: [ListenerPlan] = []
        var resolvers: [Int: DNSResolver] = [:]
        var tls = TLSPlanner()
        let groups: [[ListenerSpec]]
        switch sharedListenGroups(config) {
        case .success(let g): groups = g
        case .failure(let failure): return .failure(failure)
        }
        for group in groups {
            let spec = group[0]
            let server = config.servers[spec.serverIndex]
            guard let address = socketAddress(spec.address) else {
                return .failure(Failure(description: "invalid listen address \(spec.address) in \(spec.location)"))
            }
            var log: ErrorLog? = nil
            let (targets, ignored) = logTargets(server.errorLogs)
            for what in ignored { warnings.append("error_log \(what) is not supported yet, ignored") }
            if targets != mainTargets && !targets.isEmpty {
                if let existing = serverLogs.first(where: { $0.targets == targets }) {
                    log = existing.log
                } else {
                    do throws(Errno) {
                        let opened = try ErrorLog(targets: targets)
                        serverLogs.append((targets, opened))
                        log = opened
                    } catch {
                        return .failure(Failure(description: "could not open error log of the server in "
                            + "\(server.file):\(server.line) \(error)"))
                    }
                }
            }
            var perServer: [ProxySettings] = []
            for member in group {
                switch serverSettings(config.servers[member.serverIndex], spec: member, resolvers: &resolvers) {
                case .success(let made): perServer.append(made)
                case .failure(let failure): return .failure(failure)
                }
            }
            switch tls.apply(to: &perServer, group: group, config: config) {
            case .success: break
            case .failure(let failure): return .failure(failure)
            }
            var plan = ListenerPlan(address: address, backlog: Int32(clamping: spec.backlog), ipv6Only: spec.ipv6only,
                                    receiveBuffer: spec.rcvbuf, sendBuffer: spec.sndbuf,
                                    keepAlive: keepAlive(spec.soKeepalive), settings: perServer[0])
            plan.log = log
            listeners.append(plan)
        }
        let mail = config.mail ?? MailSettings()
        return .success(RuntimePlan(
            listeners: listeners, logTargets: mainTargets, pidPath: config.main.pidPath,
            sessionThreads: mail.sessionPoolThreads, sessionQueue: mail.sessionPoolQueue,
            relayThreads: mail.relayThreads, shutdownTimeoutMillis: config.main.workerShutdownTimeout.map(millis),
            startupWarnings: warnings, serverLogs: serverLogs.map(\.log)))
    }

    /// One server block's settings as a listener of `spec` serves them.
    static func serverSettings(_ server: ServerSettings, spec: ListenerSpec,
                               resolvers: inout [Int: DNSResolver]) -> Result<ProxySettings, Failure> {
        let authURL: AuthCache.AuthHTTPURL
        switch AuthCache.AuthHTTPURL.parse(authURLText(server.authHTTP)) {
        case .success(let url): authURL = url
        case .failure(let error): return .failure(Failure(description: "\(error)"))
        }
        // `listen ... ssl`: the sessions know TLS is up from the start (no STARTTLS
        // offered, `starttls only` satisfied).
        let tlsActive = spec.ssl
        var settings = ProxySettings(
            mailProtocol: server.protocolName, serverName: server.serverName,
            timeoutMillis: millis(server.timeout), authURL: authURL,
            authTimeoutMillis: millis(server.authHTTPTimeout),
            authHeaders: server.authHTTPHeaders.map { AuthHTTPExtraHeader(name: $0.name, value: $0.value) },
            passErrorMessage: server.proxyPassErrorMessage,
            // splice(2) through 256 KiB pipes for plaintext pairs (bench/RESULTS.md: 64 KiB
            // pipes were about half nginx's CPU per GB, 256 KiB cut 8 parallel FETCHes a third
            // further). A pipe is held only while bytes are in flight. A pair with a TLS side
            // has no splice descriptor and copies through buffers of proxy_buffer.
            relay: RelayOptions(bufferSize: server.proxyBuffer, idleTimeoutMillis: millis(server.proxyTimeout),
                                propagateHalfClose: true, useSplice: true,
                                splicePipeSize: max(server.proxyBuffer, 256 * 1024)),
            imap: IMAPSessionSettings(capabilities: server.imapCapabilities, authMethods: server.imapAuth,
                                      clientBufferSize: server.imapClientBuffer, maxErrors: server.maxErrors,
                                      starttls: startTLSMode(server.starttls), tlsActive: tlsActive),
            authCache: authCacheSettings(server),
            // nginx reads POP3 commands into 128 bytes, too short for AUTH PLAIN
            // with a long password; Postern's limit is max_line_length.
            pop3: POP3SessionSettings(capabilities: server.pop3Capabilities, authMethods: server.pop3Auth,
                                      clientBufferSize: server.maxLineLength, maxErrors: server.maxErrors,
                                      starttls: startTLSMode(server.starttls), tlsActive: tlsActive),
            smtp: SMTPSessionSettings(serverName: server.serverName, capabilities: server.smtpCapabilities,
                                      authMethods: server.smtpAuth, clientBufferSize: server.smtpClientBuffer,
                                      maxErrors: server.maxErrors, starttls: startTLSMode(server.starttls), tlsActive: tlsActive),
            smtpGreetingDelayMillis: millis(server.smtpGreetingDelay),
            xclient: server.xclient, proxySMTPAuth: server.proxySMTPAuth)
        if let failure = applyPeerSettings(&settings, server: server, spec: spec, resolvers: &resolvers) {
            return .failure(failure)
        }
        return .success(settings)
    }

    static func millis(_ value: Milliseconds) -> Int { Int(clamping: value) }

    /// The cache of a server block, nil with `auth_cache off` (the default).
    /// `auth_cache_fail_ttl` is how long failure history is remembered.
    static func authCacheSettings(_ server: ServerSettings) -> AuthCacheSettings? {
        guard let path = server.authCachePath else { return nil }
        let window = max(server.authThrottleWindow / 1000, 1)
        return AuthCacheSettings(
            path: path, ttlSeconds: server.authCacheTTL / 1000,
            throttle: ThrottlePolicy(
                maxFailures: server.authThrottleFailures, windowSeconds: window,
                banSeconds: max(server.authThrottleBan / 1000, 1),
                delayMillis: min(3000, millis(server.timeout)),
                memorySeconds: max(server.authCacheFailTTL / 1000, window)),
            clientPrefix: ClientPrefix(v4Bits: server.authCacheClientPrefixV4, v6Bits: server.authCacheClientPrefixV6),
            ledgerRetentionSeconds: server.authLedgerRetention / 1000)
    }

    static func authURLText(_ url: Server.AuthHTTPURL) -> String {
        switch url.peer {
        case .host(let host, let port):
            let h = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            return "\(h):\(port)\(url.uri)"
        case .unix(let path):
            return "unix:\(path):\(url.uri)"
        }
    }

    static func socketAddress(_ address: ListenAddress) -> SocketAddress? {
        switch address {
        case .inet(let ip, let port):
            return SocketAddress.ip(ip.description, port: UInt16(clamping: port))
        case .unix(let path):
            return .unix(path: path)
        }
    }

    static func keepAlive(_ setting: SOKeepalive) -> KeepAliveSetting {
        switch setting {
        case .unset, .off: return .off
        case .on: return .on
        case .tuned(let idle, let interval, let count):
            return .timers(idle: idle.map { Int($0) }, interval: interval.map { Int($0) }, count: count)
        }
    }
}
