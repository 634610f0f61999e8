import Protocols

/// Directives with their own handler in nginx (not a generic slot).
extension ConfigInterpreter {
    mutating func applyCustom(_ spec: DirectiveSpec, _ node: ConfigNode, in context: WalkContext) {
        let args = node.args
        switch spec.name {
        case "worker_processes":
            if workerProcesses != nil { return fail("\"worker_processes\" directive is duplicate", node) }
            if args[0] == "auto" {
                workerProcesses = .auto
            } else if let n = ConfigValueParser.number(args[0]) {
                workerProcesses = .count(n)
            } else {
                fail("\"worker_processes\" directive invalid value", node)
            }
        case "user":
            if user != nil { return fail("\"user\" directive is duplicate", node) }
            // nginx takes the group from the user name when none is given.
            user = (args[0], args.count == 2 ? args[1] : args[0])
        case "worker_priority":
            var text = Substring(args[0])
            if text.hasPrefix("-") || text.hasPrefix("+") { text = text.dropFirst() }
            if ConfigValueParser.number(String(text)) == nil {
                fail("\"worker_priority\" directive invalid number", node)
            }
        case "worker_cpu_affinity":
            if workerCPUAffinity != nil { return fail("\"worker_cpu_affinity\" directive is duplicate", node) }
            switch CPUAffinity.parse(args) {
            case .success(let affinity): workerCPUAffinity = affinity
            case .failure(let error): fail(error.text, node)
            }
        case "error_log":
            applyErrorLog(node, in: context)
        case "listen":
            if case .server(let i) = context { applyListen(node, server: i) }
        case "protocol":
            guard case .server(let i) = context else { return }
            guard let p = MailProtocol(rawValue: args[0]) else {
                return fail("unknown protocol \"\(args[0])\"", node)
            }
            servers[i].explicitProtocol = p
        case "resolver":
            applyResolver(node, in: context)
        case "auth_http":
            switch AuthHTTPURL.parse(args[0]) {
            case .failure(let m): fail(m.text, node)
            case .success(let url):
                // nginx resolves the name while reading the config, so -t
                // catches a typo; the auth client resolves again when it connects.
                if case .host(let host, _) = url.peer, ConfigIPAddress(parsing: host) == nil,
                   environment.resolveHost(host).isEmpty {
                    let shown = args[0].hasPrefix("http://") ? String(args[0].dropFirst(7)) : args[0]
                    return fail("host not found in auth_http \"\(shown)\"", node)
                }
                withScope(context) { $0.authHTTP = url }
            }
        case "set_real_ip_from":
            applyRealIPFrom(node, in: context)
        case "ssl_session_cache":
            applySessionCache(node, in: context)
        default:
            break
        }
    }

    /// `error_log FILE [LEVEL]` (nginx's `ngx_log_set_log` and `ngx_log_set_levels`).
    private mutating func applyErrorLog(_ node: ConfigNode, in context: WalkContext) {
        let args = node.args
        let target: ErrorLogTarget
        if args[0] == "stderr" {
            target = .stderr
        } else if args[0].hasPrefix("syslog:") {
            target = .syslog(String(args[0].dropFirst(7)))
        } else if args[0].hasPrefix("memory:") {
            guard let size = ConfigValueParser.size(String(args[0].dropFirst(7))) else {
                return fail("invalid buffer size \"\(args[0].dropFirst(7))\"", node)
            }
            target = .memory(size)
        } else {
            target = .file(resolvePath(args[0], against: prefix))
        }
        var level: ErrorLogLevel?
        for word in args.dropFirst() {
            if let l = ErrorLogLevel(rawValue: word) {
                if level != nil { return fail("duplicate log level \"\(word)\"", node) }
                level = l
            } else if Self.debugLevels.contains(word) {
                // Per-subsystem debug levels all mean "debug" to Postern.
                level = .debug
            } else {
                return fail("invalid log level \"\(word)\"", node)
            }
        }
        let spec = ErrorLogSpec(target: target, level: level ?? .error)
        withScope(context) { $0.errorLogs = ($0.errorLogs ?? []) + [spec] }
    }

    static let debugLevels: Set<String> = [
        "debug_core", "debug_alloc", "debug_mutex", "debug_event", "debug_http", "debug_mail", "debug_stream",
    ]

    /// `resolver ADDRESS ... [valid=TIME] [ipv4=on|off] [ipv6=on|off] [status_zone=ZONE]` or `off`.
    private mutating func applyResolver(_ node: ConfigNode, in context: WalkContext) {
        let already = withScope(context) { $0.resolver != nil }
        if already { return fail("\"resolver\" directive is duplicate", node) }
        if node.args[0] == "off" {
            withScope(context) { $0.resolver = .some(nil) }
            return
        }
        var settings = ResolverSettings(servers: [])
        for arg in node.args {
            if arg.hasPrefix("valid=") {
                guard let s = ConfigValueParser.time(String(arg.dropFirst(6)), isSeconds: true) else {
                    return fail("invalid parameter: \(arg)", node)
                }
                settings.valid = s * 1000
            } else if arg.hasPrefix("ipv4=") || arg.hasPrefix("ipv6=") {
                guard let on = ConfigValueParser.flag(String(arg.dropFirst(5))) else {
                    return fail("invalid parameter: \(arg)", node)
                }
                if arg.hasPrefix("ipv4=") { settings.ipv4 = on } else { settings.ipv6 = on }
            } else if arg.hasPrefix("status_zone=") {
                settings.statusZone = String(arg.dropFirst(12))
            } else {
                switch ConfigURL.parse(arg, allowURI: false, portOnlyIsAddress: false) {
                case .failure(let m):
                    return fail("\(m.text) in resolver \"\(arg)\"", node)
                case .success(.unix):
                    return fail("invalid host in resolver \"\(arg)\"", node)
                case .success(.inet(let host, let port, _, _)):
                    // As nginx: a resolver given by name must resolve now.
                    if ConfigIPAddress(parsing: host) == nil && environment.resolveHost(host).isEmpty {
                        return fail("host not found in resolver \"\(arg)\"", node)
                    }
                    settings.servers.append(.init(host: host, port: port ?? 53))
                }
            }
        }
        if !settings.ipv4 && !settings.ipv6 {
            return fail("\"ipv4\" and \"ipv6\" cannot both be \"off\"", node)
        }
        withScope(context) { $0.resolver = .some(settings) }
    }

    /// `set_real_ip_from ADDRESS[/LEN] | HOST | unix:` (ngx_mail_realip_from).
    private mutating func applyRealIPFrom(_ node: ConfigNode, in context: WalkContext) {
        let value = node.args[0]
        var add: [ConfigCIDR] = []
        if value == "unix:" {
            add = [.unixDomain]
        } else if let (cidr, hadHostBits) = ConfigCIDR.parse(value) {
            if hadHostBits { warn("low address bits of \(value) are meaningless", node.location) }
            add = [cidr]
        } else {
            let addresses = environment.resolveHost(value)
            if addresses.isEmpty { return fail("host not found in set_real_ip_from \"\(value)\"", node) }
            add = addresses.map { .network($0, prefixLength: $0.bytes.count * 8) }
        }
        withScope(context) { $0.realIPFrom = ($0.realIPFrom ?? []) + add }
    }

    /// `ssl_session_cache off | none | [builtin[:size]] [shared:name:size]`.
    private mutating func applySessionCache(_ node: ConfigNode, in context: WalkContext) {
        var mode: SSLSessionCache = .unset
        var builtin: Int?, sharedName: String?, sharedSize: Int?
        var builtinSet = false
        for arg in node.args {
            if arg == "off" { mode = .off; continue }
            if arg == "none" { mode = .none; continue }
            if arg == "builtin" {
                // OpenSSL's own default size (SSL_SESSION_CACHE_MAX_SIZE_DEFAULT).
                builtinSet = true
                builtin = 20480
                continue
            }
            if arg.hasPrefix("builtin:") && arg.count > 8 {
                guard let n = ConfigValueParser.number(String(arg.dropFirst(8))) else {
                    return fail("invalid session cache \"\(arg)\"", node)
                }
                builtinSet = true
                builtin = n
                continue
            }
            if arg.hasPrefix("shared:") && arg.count > 7 {
                let rest = arg.dropFirst(7)
                guard let colon = rest.firstIndex(of: ":"), colon != rest.startIndex,
                      let size = ConfigValueParser.size(String(rest[rest.index(after: colon)...])) else {
                    return fail("invalid session cache \"\(arg)\"", node)
                }
                // nginx: the zone must hold at least 8 pages.
                if size < 8 * 4096 { return fail("session cache \"\(arg)\" is too small", node) }
                sharedName = String(rest[..<colon])
                sharedSize = size
                continue
            }
            return fail("invalid session cache \"\(arg)\"", node)
        }
        if builtinSet || sharedName != nil {
            mode = .caches(builtin: builtinSet ? builtin : nil, sharedName: sharedName, sharedSize: sharedSize)
        }
        withScope(context) { $0.sslSessionCache = mode }
    }
}
