/// The address forms nginx's `ngx_parse_url` accepts for `listen` and
/// `auth_http`, with its error words ("invalid port", "no host", ...), which
/// callers wrap as `%s in "URL" of the "listen" directive`.
enum ConfigURL: Equatable {
    case unix(path: String, uri: String)
    /// host is a literal address, a name, or `*`; port nil when absent.
    case inet(host: String, port: Int?, uri: String, isIPv6Literal: Bool)

    /// `allowURI`: `auth_http` takes `/path` after the authority (nginx's
    /// uri_part); `listen` does not. `portOnlyIsAddress`: `listen 143` means
    /// `*:143` (nginx's u.listen).
    static func parse(_ text: String, allowURI: Bool, portOnlyIsAddress: Bool) -> Result<ConfigURL, ConfigMessage> {
        if text.hasPrefix("unix:") {
            var path = String(text.dropFirst(5))
            var uri = ""
            if allowURI, let colon = path.firstIndex(of: ":") {
                uri = String(path[path.index(after: colon)...])
                path = String(path[..<colon])
            }
            if path.isEmpty { return .failure(ConfigMessage("no path in the unix domain socket")) }
            return .success(.unix(path: path, uri: uri))
        }

        var rest = Substring(text)
        var uri = ""
        if text.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return .failure(ConfigMessage("invalid host")) }
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if allowURI, let slash = rest.firstIndex(of: "/") {
                uri = String(rest[slash...])
                rest = rest[..<slash]
            }
            var port: Int?
            if rest.hasPrefix(":") {
                guard let p = ConfigValueParser.number(String(rest.dropFirst())), p >= 1, p <= 65535 else {
                    return .failure(ConfigMessage("invalid port"))
                }
                port = p
            } else if !rest.isEmpty {
                return .failure(ConfigMessage("invalid host"))
            }
            guard case .v6? = ConfigIPAddress(parsing: host) else { return .failure(ConfigMessage("invalid IPv6 address")) }
            return .success(.inet(host: host, port: port, uri: uri, isIPv6Literal: true))
        }

        if allowURI, let slash = rest.firstIndex(of: "/") {
            uri = String(rest[slash...])
            rest = rest[..<slash]
        }
        if let colon = rest.firstIndex(of: ":") {
            let host = String(rest[..<colon])
            guard let p = ConfigValueParser.number(String(rest[rest.index(after: colon)...])),
                  p >= 1, p <= 65535 else {
                return .failure(ConfigMessage("invalid port"))
            }
            if host.isEmpty { return .failure(ConfigMessage("no host")) }
            return .success(.inet(host: host, port: p, uri: uri, isIPv6Literal: false))
        }
        if portOnlyIsAddress, let p = ConfigValueParser.number(String(rest)) {
            guard p >= 1, p <= 65535 else { return .failure(ConfigMessage("invalid port")) }
            return .success(.inet(host: "*", port: p, uri: uri, isIPv6Literal: false))
        }
        if rest.isEmpty { return .failure(ConfigMessage("no host")) }
        return .success(.inet(host: String(rest), port: nil, uri: uri, isIPv6Literal: false))
    }
}

extension AuthHTTPURL {
    /// `auth_http` as nginx reads it: an optional `http://`, then host, port
    /// (default 80) and URI (default `/`). Returns nginx's error text.
    static func parse(_ value: String) -> Result<AuthHTTPURL, ConfigMessage> {
        let stripped = value.hasPrefix("http://") ? String(value.dropFirst(7)) : value
        switch ConfigURL.parse(stripped, allowURI: true, portOnlyIsAddress: false) {
        case .failure(let word):
            return .failure(ConfigMessage("\(word.text) in auth_http \"\(stripped)\""))
        case .success(.unix(let path, let uri)):
            return .success(AuthHTTPURL(peer: .unix(path), hostHeader: "localhost", uri: uri.isEmpty ? "/" : uri))
        case .success(.inet(let host, let port, let uri, let isV6)):
            // nginx's Host header is the host as written, without the port.
            let header = isV6 ? "[\(host)]" : host
            return .success(AuthHTTPURL(peer: .host(host, port: port ?? 80), hostHeader: header,
                                        uri: uri.isEmpty ? "/" : uri))
        }
    }
}

/// A message not yet placed in a file; the interpreter adds the location.
struct ConfigMessage: Error, Equatable {
    let text: String
    init(_ text: String) { self.text = text }
}
