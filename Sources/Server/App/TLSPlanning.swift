import Protocols

extension ConfigPlanner {
    /// The config's `starttls` value as the protocol sessions spell it.
    static func startTLSMode(_ mode: StartTLSMode) -> Protocols.StartTLSMode {
        Protocols.StartTLSMode(rawValue: mode.rawValue) ?? .off
    }

    /// The listeners grouped by address, in file order. nginx refuses a
    /// second `listen` of an address; Postern lets several server blocks
    /// share one if all of them use it with `ssl` (the parser checked that)
    /// and their `server_name`s differ: the first block is the default and
    /// the name the client sends in SNI picks another.
    static func sharedListenGroups(_ config: PosternConfig) -> Result<[[ListenerSpec]], Failure> {
        var groups: [[ListenerSpec]] = []
        var index: [ListenAddress: Int] = [:]
        for spec in config.listeners {
            guard let at = index[spec.address] else {
                index[spec.address] = groups.count
                groups.append([spec])
                continue
            }
            let first = groups[at][0]
            let server = config.servers[spec.serverIndex]
            let duplicate = Failure(description: "duplicate \"\(spec.address)\" address and port pair in \(spec.location)")
            guard spec.ssl, first.ssl else { return .failure(duplicate) }
            if server.protocolName != config.servers[first.serverIndex].protocolName {
                return .failure(Failure(description: "server blocks sharing \"\(spec.address)\" use different "
                    + "protocols in \(spec.location)"))
            }
            let name = server.serverName.lowercased()
            if groups[at].contains(where: { config.servers[$0.serverIndex].serverName.lowercased() == name }) {
                return .failure(Failure(description: "duplicate \"\(spec.address)\" address and port pair in "
                    + "\(spec.location): server_name \"\(server.serverName)\" is already used there, "
                    + "so SNI could not tell the server blocks apart"))
            }
            groups[at].append(spec)
        }
        return .success(groups)
    }

    /// For `-t`: everything TLS the planner would build (certificates, keys,
    /// CA files, ticket keys, backend client contexts), without opening logs
    /// or sockets. nil when all of it loads.
    static func checkTLS(_ config: PosternConfig) -> Failure? {
        let groups: [[ListenerSpec]]
        switch sharedListenGroups(config) {
        case .success(let g): groups = g
        case .failure(let failure): return failure
        }
        var tls = TLSPlanner()
        for group in groups {
            var settings: [ProxySettings] = []
            var resolvers: [Int: DNSResolver] = [:]
            for member in group {
                // A resolver failure is the planner's to report at start.
                guard case .success(let made) = serverSettings(config.servers[member.serverIndex], spec: member,
                                                               resolvers: &resolvers) else { continue }
                settings.append(made)
            }
            guard settings.count == group.count else { continue }
            if case .failure(let failure) = tls.apply(to: &settings, group: group, config: config) { return failure }
        }
        return nil
    }
}

/// Builds the TLS contexts of one plan: one server context per server block
/// that uses TLS (`listen ... ssl` or `starttls on|only`), one client context
/// per block with `proxy_ssl on`, each loaded once however many listeners
/// share it. A file that does not load fails the plan, naming the file and
/// the server block, as nginx fails start, reload and `-t`.
struct TLSPlanner {
    private var serverContexts: [Int: TLSServerContext] = [:]
    private var backendSettings: [Int: BackendTLSSettings] = [:]

    /// Fills `clientTLS`, `backendTLS` and `sniServers` of the settings of a
    /// listener group (one entry per member, default first).
    mutating func apply(to settings: inout [ProxySettings], group: [ListenerSpec],
                        config: PosternConfig) -> Result<Void, ConfigPlanner.Failure> {
        var contexts: [TLSServerContext?] = []
        for (i, member) in group.enumerated() {
            let server = config.servers[member.serverIndex]
            switch backend(server, index: member.serverIndex) {
            case .success(let made): settings[i].backendTLS = made
            case .failure(let failure): return .failure(failure)
            }
            guard member.ssl || server.starttls != .off else {
                contexts.append(nil)
                continue
            }
            switch context(server, index: member.serverIndex) {
            case .success(let made): contexts.append(made)
            case .failure(let failure): return .failure(failure)
            }
        }
        guard let defaultContext = contexts[0] else { return .success(()) }
        var named: [(name: String, context: TLSServerContext)] = []
        for i in group.indices.dropFirst() {
            if let context = contexts[i] { named.append((config.servers[group[i].serverIndex].serverName, context)) }
        }
        let set = TLSServerContextSet(default: defaultContext, byName: named)
        for (i, member) in group.enumerated() {
            let server = config.servers[member.serverIndex]
            guard contexts[i] != nil else { continue }
            settings[i].clientTLS = ClientTLSSettings(
                implicit: member.ssl, contexts: set, verifyClient: server.ssl.verifyClient,
                passClientCertificate: server.authHTTPPassClientCert)
        }
        let others = group.indices.dropFirst().map { i in (config.servers[group[i].serverIndex].serverName, settings[i]) }
        settings[0].sniServers = others
        return .success(())
    }

    private mutating func context(_ server: ServerSettings, index: Int) -> Result<TLSServerContext, ConfigPlanner.Failure> {
        if let made = serverContexts[index] { return .success(made) }
        do throws(TLSError) {
            let made = try TLSServerContext(settings: server.ssl)
            serverContexts[index] = made
            return .success(made)
        } catch {
            return .failure(ConfigPlanner.Failure(description: "\(error) for the server in \(server.file):\(server.line)"))
        }
    }

    private mutating func backend(_ server: ServerSettings, index: Int) -> Result<BackendTLSSettings?, ConfigPlanner.Failure> {
        let proxy = server.proxySSL
        guard proxy.enabled else { return .success(nil) }
        if let made = backendSettings[index] { return .success(made) }
        let clientSettings = TLSClientSettings(
            verify: proxy.verify, trustedCertificate: proxy.trustedCertificate, verifyDepth: proxy.verifyDepth,
            protocols: proxy.protocols, ciphers: proxy.ciphers, certificate: proxy.certificate,
            certificateKey: proxy.certificateKey, passwordFile: proxy.passwordFile)
        do throws(TLSError) {
            let made = BackendTLSSettings(context: try TLSClientContext(settings: clientSettings),
                                          name: proxy.name, sendServerName: proxy.sendServerName)
            backendSettings[index] = made
            return .success(made)
        } catch {
            return .failure(ConfigPlanner.Failure(description: "\(error) for proxy_ssl of the server in "
                + "\(server.file):\(server.line)"))
        }
    }
}

