import Glibc

extension ConfigPlanner {
    /// Fills the PROXY protocol, realip and resolver parts of a listener's
    /// settings. One resolver (and its cache) serves all listeners of a server
    /// block; `resolvers` remembers them by server index. Nil on success.
    static func applyPeerSettings(_ settings: inout ProxySettings, server: ServerSettings, spec: ListenerSpec,
                                  resolvers: inout [Int: DNSResolver]) -> Failure? {
        if resolvers[spec.serverIndex] == nil, let config = server.resolver {
            switch makeResolver(config, timeout: server.resolverTimeout) {
            case .success(let made): resolvers[spec.serverIndex] = made
            case .failure(let failure): return failure
            }
        }
        settings.acceptProxyProtocol = spec.proxyProtocol
        settings.realIPTrust = realIPTrust(server.setRealIPFrom)
        settings.backendProxyProtocol = server.proxyProtocol
        settings.resolver = resolvers[spec.serverIndex]
        return nil
    }

    /// Name servers may be given by name; like nginx, they are resolved once, at (re)load.
    static func makeResolver(_ config: ResolverSettings, timeout: Milliseconds) -> Result<DNSResolver, Failure> {
        var addresses: [SocketAddress] = []
        for server in config.servers {
            let port = UInt16(clamping: server.port)
            do throws(ResolveError) {
                addresses += try SocketAddress.resolve(host: server.host, port: port)
            } catch {
                return .failure(Failure(description: "host not found in resolver \"\(server.host)\": \(error)"))
            }
        }
        return .success(DNSResolver(servers: addresses, timeoutMillis: millis(timeout),
                                    validMillis: config.valid.map(millis), ipv4: config.ipv4, ipv6: config.ipv6))
    }

    static func realIPTrust(_ cidrs: [ConfigCIDR]) -> RealIPTrust {
        RealIPTrust(networks: cidrs.map { cidr in
            switch cidr {
            case .unixDomain: return .unixDomain
            case .network(let address, let length): return .ip(bytes: address.bytes, prefixLength: length)
            }
        })
    }
}
