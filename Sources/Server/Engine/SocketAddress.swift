import Glibc

/// An IPv4, IPv6 or unix-domain socket address, printed the way nginx prints
/// them in logs and in `$server_addr`-like contexts: `127.0.0.1:1143`,
/// `[::1]:1143`, `unix:/run/postern.sock`.
public enum SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// Address bytes in network order.
    case ipv4(bytes: [UInt8], port: UInt16)
    case ipv6(bytes: [UInt8], port: UInt16, scopeID: UInt32 = 0)
    case unix(path: String)

    public var port: UInt16? {
        switch self {
        case .ipv4(_, let port), .ipv6(_, let port, _): return port
        case .unix: return nil
        }
    }

    public func with(port: UInt16) -> SocketAddress {
        switch self {
        case .ipv4(let b, _): return .ipv4(bytes: b, port: port)
        case .ipv6(let b, _, let s): return .ipv6(bytes: b, port: port, scopeID: s)
        case .unix: return self
        }
    }

    /// The address alone: `127.0.0.1`, `::1` (no brackets), `unix:/path`;
    /// nginx's `$remote_addr` and the Client-IP auth_http header use this form.
    public var hostText: String {
        switch self {
        case .ipv4(let b, _) where b.count == 4: return Self.dottedQuad(b)
        case .ipv4(let b, _): return Self.ntop(AF_INET, b)
        case .ipv6(let b, _, _): return Self.ntop(AF_INET6, b)
        case .unix(let path): return "unix:" + path
        }
    }

    public var description: String {
        switch self {
        case .ipv4(_, let port): return "\(hostText):\(port)"
        case .ipv6(_, let port, _): return "[\(hostText)]:\(port)"
        case .unix: return hostText
        }
    }

    public var family: Int32 {
        switch self {
        case .ipv4: return AF_INET
        case .ipv6: return AF_INET6
        case .unix: return AF_UNIX
        }
    }

    // MARK: Parsing

    /// An IP literal with a separate port: `127.0.0.1`, `::1` or `[::1]`.
    public static func ip(_ text: String, port: UInt16) -> SocketAddress? {
        var literal = Substring(text)
        if literal.hasPrefix("[") && literal.hasSuffix("]") { literal = literal.dropFirst().dropLast() }
        if let b = pton(AF_INET, String(literal), count: 4) { return .ipv4(bytes: b, port: port) }
        if let b = pton(AF_INET6, String(literal), count: 16) { return .ipv6(bytes: b, port: port) }
        return nil
    }

    /// `unix:/path`, `1.2.3.4:143`, `[::1]:143`, or a bare IP literal with
    /// `defaultPort`. Host names are not resolved here (see `resolve`).
    public static func parse(_ text: String, defaultPort: UInt16? = nil) -> SocketAddress? {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            return path.isEmpty || path.utf8.count >= 108 ? nil : .unix(path: path)
        }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return defaultPort.flatMap { ip(host, port: $0) } }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else { return nil }
            guard pton(AF_INET6, host, count: 16) != nil else { return nil }
            return ip(host, port: port)
        }
        if let whole = defaultPort.flatMap({ ip(text, port: $0) }) { return whole }
        // One colon: IPv4 with a port. More colons without brackets: a bare IPv6.
        let colons = text.filter { $0 == ":" }.count
        if colons == 1, let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]),
           let b = pton(AF_INET, String(text[..<colon]), count: 4) {
            return .ipv4(bytes: b, port: port)
        }
        return nil
    }

    /// Resolves a host name (or literal) with getaddrinfo, for TCP, in the
    /// resolver's preferred order. Blocking: call from a session thread.
    public static func resolve(host: String, port: UInt16) throws(ResolveError) -> [SocketAddress] {
        if let literal = ip(host, port: port) { return [literal] }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &list)
        guard rc == 0, let list else { throw ResolveError(host: host, code: rc, message: String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(list) }
        var result: [SocketAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = list
        while let n = node {
            if let sa = n.pointee.ai_addr, let a = SocketAddress(sockaddr: sa, length: n.pointee.ai_addrlen),
               !result.contains(a.with(port: port)) {
                result.append(a.with(port: port))
            }
            node = n.pointee.ai_next
        }
        if result.isEmpty { throw ResolveError(host: host, code: EAI_NONAME, message: "no addresses") }
        return result
    }

    // MARK: sockaddr conversion

    public init?(sockaddr pointer: UnsafePointer<sockaddr>, length: socklen_t) {
        switch Int32(pointer.pointee.sa_family) {
        case AF_INET:
            guard length >= MemoryLayout<sockaddr_in>.size else { return nil }
            let sin = UnsafeRawPointer(pointer).loadUnaligned(as: sockaddr_in.self)
            let bytes = withUnsafeBytes(of: sin.sin_addr) { Array($0) }
            self = .ipv4(bytes: bytes, port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            guard length >= MemoryLayout<sockaddr_in6>.size else { return nil }
            let sin6 = UnsafeRawPointer(pointer).loadUnaligned(as: sockaddr_in6.self)
            let bytes = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
            self = .ipv6(bytes: bytes, port: UInt16(bigEndian: sin6.sin6_port), scopeID: sin6.sin6_scope_id)
        case AF_UNIX:
            let offset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
            let pathLength = Int(length) - offset
            guard pathLength > 0 else { self = .unix(path: ""); return }
            let raw = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer) + offset, count: pathLength)
            let bytes = raw.prefix { $0 != 0 }
            self = .unix(path: String(decoding: bytes, as: UTF8.self))
        default:
            return nil
        }
    }

    init?(storage: sockaddr_storage, length: socklen_t) {
        var copy = storage
        let parsed = withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(sockaddr: $0, length: length) }
        }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Calls `body` with this address as a sockaddr and its length.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(Errno) -> R) throws(Errno) -> R {
        var storage = sockaddr_storage()
        let length: socklen_t
        switch self {
        case .ipv4(let bytes, let port):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: bytes.prefix(4)) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin, as: sockaddr_in.self) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        case .ipv6(let bytes, let port, let scope):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            sin6.sin6_scope_id = scope
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes.prefix(16)) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin6, as: sockaddr_in6.self) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        case .unix(let path):
            var sun = sockaddr_un()
            sun.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8.prefix(107))
            withUnsafeMutableBytes(of: &sun.sun_path) { $0.copyBytes(from: bytes) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sun, as: sockaddr_un.self) }
            length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1)
        }
        return try withUnsafePointer(to: &storage) { p throws(Errno) -> R in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { s throws(Errno) -> R in try body(s, length) }
        }
    }

    private static func pton(_ family: Int32, _ text: String, count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 16)
        let ok = out.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return ok == 1 ? Array(out.prefix(count)) : nil
    }

    /// IPv4 text without inet_ntop: this runs a few times per session (log
    /// context, Client-IP, upstream name) and inet_ntop's sprintf cost about
    /// 9,000 instructions a call (callgrind).
    private static func dottedQuad(_ b: [UInt8]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(15)
        for (i, byte) in b.enumerated() {
            if i > 0 { text.append(UInt8(ascii: ".")) }
            if byte >= 100 { text.append(0x30 + byte / 100) }
            if byte >= 10 { text.append(0x30 + (byte / 10) % 10) }
            text.append(0x30 + byte % 10)
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func ntop(_ family: Int32, _ bytes: [UInt8]) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        var src = bytes + [UInt8](repeating: 0, count: max(0, 16 - bytes.count))
        let ok = src.withUnsafeMutableBytes { s in
            text.withUnsafeMutableBufferPointer { inet_ntop(family, s.baseAddress, $0.baseAddress, socklen_t($0.count)) }
        }
        guard ok != nil else { return "?" }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// getaddrinfo failed: the host and gai_strerror's text.
public struct ResolveError: Error, Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let code: Int32
    public let message: String
    public var description: String { "\(host) could not be resolved (\(code): \(message))" }
}
