import Protocols

/// `listen ADDRESS [ssl] [proxy_protocol] [backlog=N] [rcvbuf=SIZE]
/// [sndbuf=SIZE] [bind] [ipv6only=on|off] [so_keepalive=...] [multipath]`,
/// as ngx_mail_core_module documents and checks it. Host names resolve here
/// (through the environment), as nginx resolves them when reading the
/// config, so `-t` reports a name that does not resolve.
extension ConfigInterpreter {
    mutating func applyListen(_ node: ConfigNode, server: Int) {
        let text = node.args[0]
        let addresses: [ListenAddress]
        switch ConfigURL.parse(text, allowURI: false, portOnlyIsAddress: true) {
        case .failure(let m):
            return fail("\(m.text) in \"\(text)\" of the \"listen\" directive", node)
        case .success(.unix(let path, _)):
            addresses = [.unix(path)]
        case .success(.inet(let host, let port, _, _)):
            // nginx would bind an ephemeral port; a mail listener without a
            // port is always a mistake, so Postern refuses it.
            guard let port else { return fail("no port in \"\(text)\" of the \"listen\" directive", node) }
            if host == "*" {
                addresses = [.inet(.anyV4, port: port)]
            } else if let ip = ConfigIPAddress(parsing: host) {
                addresses = [.inet(ip, port: port)]
            } else {
                let resolved = environment.resolveHost(host)
                if resolved.isEmpty {
                    return fail("host not found in \"\(text)\" of the \"listen\" directive", node)
                }
                var seen = Set<ConfigIPAddress>()
                addresses = resolved.filter { seen.insert($0).inserted }.map { .inet($0, port: port) }
            }
        }

        var spec = ListenerSpec(address: addresses[0], serverIndex: server, location: node.location)
        for param in node.args.dropFirst() {
            if let error = applyListenParameter(param, to: &spec, node: node) {
                return fail(error, node)
            }
        }
        if spec.ssl, servers[server].sslListenLocation == nil {
            servers[server].sslListenLocation = node.location
        }

        for address in addresses {
            var one = spec
            one.address = address
            // Beyond nginx: server blocks may share an address when every one
            // of them listens on it with `ssl`; SNI then picks the block (the
            // planner checks that their server_names differ).
            let others = servers.indices.filter { $0 != server }
            let sharedBySSL = spec.ssl && !servers[server].listens.contains { $0.address == address }
                && others.allSatisfy { servers[$0].listens.allSatisfy { $0.address != address || $0.ssl } }
            let taken = servers.contains { $0.listens.contains { $0.address == address } }
            if taken && !sharedBySSL {
                return fail("duplicate \"\(address)\" address and port pair", node)
            }
            servers[server].listens.append(one)
        }
    }

    /// Returns nginx's error text for a bad parameter, nil when accepted.
    private mutating func applyListenParameter(_ param: String, to spec: inout ListenerSpec,
                                               node: ConfigNode) -> String? {
        if param == "bind" {
            spec.bind = true
        } else if param.hasPrefix("backlog=") {
            guard let n = ConfigValueParser.number(String(param.dropFirst(8))), n != 0 else {
                return "invalid backlog \"\(param)\""
            }
            spec.backlog = n
            spec.bind = true
        } else if param.hasPrefix("rcvbuf=") {
            guard let n = ConfigValueParser.size(String(param.dropFirst(7))) else {
                return "invalid rcvbuf \"\(param)\""
            }
            spec.rcvbuf = n
            spec.bind = true
        } else if param.hasPrefix("sndbuf=") {
            guard let n = ConfigValueParser.size(String(param.dropFirst(7))) else {
                return "invalid sndbuf \"\(param)\""
            }
            spec.sndbuf = n
            spec.bind = true
        } else if param.hasPrefix("ipv6only=o") {
            switch param.dropFirst(10) {
            case "n": spec.ipv6only = true
            case "ff": spec.ipv6only = false
            default: return "invalid ipv6only flags \"\(param.dropFirst(9))\""
            }
            spec.bind = true
        } else if param == "multipath" {
            spec.multipath = true
            spec.bind = true
            noteUse("listen multipath", node.location)
        } else if param == "ssl" {
            spec.ssl = true
            noteUse("listen ssl", node.location)
        } else if param.hasPrefix("so_keepalive=") {
            let value = String(param.dropFirst(13))
            guard let keepalive = Self.parseKeepalive(value) else {
                return "invalid so_keepalive value: \"\(value)\""
            }
            spec.soKeepalive = keepalive
            spec.bind = true
        } else if param == "proxy_protocol" {
            spec.proxyProtocol = true
            noteUse("listen proxy_protocol", node.location)
        } else {
            return "invalid parameter \"\(param)\""
        }
        return nil
    }

    /// `on`, `off`, or `[keepidle]:[keepintvl]:[keepcnt]` with at least one part.
    static func parseKeepalive(_ value: String) -> SOKeepalive? {
        if value == "on" { return .on }
        if value == "off" { return .off }
        let parts = value.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        var idle: Int64?, interval: Int64?, count: Int?
        if parts.count > 0, !parts[0].isEmpty {
            guard let v = ConfigValueParser.time(parts[0], isSeconds: true) else { return nil }
            idle = v
        }
        if parts.count > 1, !parts[1].isEmpty {
            guard let v = ConfigValueParser.time(parts[1], isSeconds: true) else { return nil }
            interval = v
        }
        if parts.count > 2, !parts[2].isEmpty {
            guard let v = ConfigValueParser.number(parts[2]) else { return nil }
            count = v
        }
        if (idle ?? 0) == 0 && (interval ?? 0) == 0 && (count ?? 0) == 0 { return nil }
        return .tuned(idle: idle, interval: interval, count: count)
    }
}
