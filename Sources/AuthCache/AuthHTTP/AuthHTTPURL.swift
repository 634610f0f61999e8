/// Where the auth service is, parsed from the `auth_http` directive the way
/// nginx does (`ngx_mail_auth_http` + `ngx_parse_url` with a URI part and
/// default port 80):
///
///     auth_http 127.0.0.1:9000/auth;        # host[:port][/uri]
///     auth_http http://auth.example/auth;   # "http://" is dropped
///     auth_http [::1]:9000/auth;            # IPv6 in brackets
///     auth_http unix:/run/auth.sock:/auth;  # unix:PATH[:URI]
///
/// The URI defaults to "/". The Host header is the host without the port,
/// or "localhost" for a unix socket. nginx resolves a host name once when it
/// reads the configuration; Postern's auth client resolves it each time it
/// opens a connection (a kept-alive connection is reused without a lookup).
public struct AuthHTTPURL: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        /// `host` is a name, an IPv4 literal, or an IPv6 literal in brackets.
        case inet(host: String, port: Int)
        case unix(path: String)
    }

    public var endpoint: Endpoint
    /// The request target after GET, e.g. "/auth" (always starts with / or ?).
    public var uri: String

    public init(endpoint: Endpoint, uri: String) {
        self.endpoint = endpoint
        self.uri = uri
    }

    /// The Host header value nginx sends.
    public var hostHeader: String {
        switch endpoint {
        case .inet(let host, _): return host
        case .unix: return "localhost"
        }
    }

    /// Parses an `auth_http` value; errors read like nginx's
    /// (`invalid port in auth_http "host:0"`).
    public static func parse(_ value: String) -> Result<AuthHTTPURL, AuthHTTPURLError> {
        var text = Substring(value)
        if text.hasPrefix("http://") {
            text = text.dropFirst(7)
        }
        func fail(_ reason: String) -> Result<AuthHTTPURL, AuthHTTPURLError> {
            .failure(AuthHTTPURLError(reason: reason, value: String(text)))
        }
        if text.count >= 5, text.prefix(5).lowercased() == "unix:" {
            var path = text.dropFirst(5)
            var uri = ""
            if let colon = path.firstIndex(of: ":") {
                uri = String(path[path.index(after: colon)...])
                path = path[..<colon]
            }
            if path.isEmpty { return fail("no path in the unix domain socket") }
            // sun_path is 108 bytes on Linux, including the terminating NUL.
            if path.utf8.count + 1 > 108 { return fail("too long path in the unix domain socket") }
            return .success(AuthHTTPURL(endpoint: .unix(path: String(path)), uri: uri.isEmpty ? "/" : uri))
        }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return fail("invalid host") }
            let inner = text[text.index(after: text.startIndex)..<close]
            var rest = text[text.index(after: close)...]
            var uri = ""
            if let slash = rest.firstIndex(of: "/") {
                uri = String(rest[slash...])
                rest = rest[..<slash]
            }
            var port = 80
            if !rest.isEmpty {
                guard rest.first == ":" else { return fail("invalid host") }
                guard let n = parseDecimal(Array(rest.dropFirst().utf8)), (1...65535).contains(n) else {
                    return fail("invalid port")
                }
                port = n
            }
            if inner.isEmpty { return fail("no host") }
            guard isIPAddressLiteral(Array(inner.utf8)), inner.contains(":") else {
                return fail("invalid IPv6 address")
            }
            return .success(AuthHTTPURL(endpoint: .inet(host: "[\(inner)]", port: port), uri: uri.isEmpty ? "/" : uri))
        }
        var hostPart = text
        var uri = ""
        let slash = text.firstIndex(of: "/")
        let question = text.firstIndex(of: "?")
        let uriStart = [slash, question].compactMap { $0 }.min()
        if let uriStart {
            uri = String(text[uriStart...])
            hostPart = text[..<uriStart]
        }
        var port = 80
        if let colon = hostPart.firstIndex(of: ":") {
            guard let n = parseDecimal(Array(hostPart[hostPart.index(after: colon)...].utf8)),
                  (1...65535).contains(n) else {
                return fail("invalid port")
            }
            port = n
            hostPart = hostPart[..<colon]
        }
        if hostPart.isEmpty { return fail("no host") }
        guard hostPart.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return fail("invalid host") }
        return .success(AuthHTTPURL(endpoint: .inet(host: String(hostPart), port: port), uri: uri.isEmpty ? "/" : uri))
    }
}

extension AuthHTTPURL: CustomStringConvertible {
    /// How nginx names the peer in log lines: `host:port` or `unix:path`.
    public var description: String {
        switch endpoint {
        case .inet(let host, let port): return "\(host):\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }
}

/// A bad `auth_http` value, worded as nginx words it; the config layer
/// appends ` in FILE:LINE`.
public struct AuthHTTPURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var value: String

    public init(reason: String, value: String) {
        self.reason = reason
        self.value = value
    }

    public var description: String { "\(reason) in auth_http \"\(value)\"" }
}
