import Glibc

/// Everything the configuration parser needs from the outside world. The
/// parser itself does no I/O; tests pass `InMemoryConfigEnvironment`.
public protocol ConfigEnvironment: Sendable {
    /// The whole file, or the errno of the failed open/read.
    func readFile(_ path: String) -> Result<[UInt8], ConfigFileError>
    /// Paths matching a shell pattern, sorted; an empty list when nothing
    /// matches (nginx includes nothing then, without error).
    func glob(_ pattern: String) -> Result<[String], ConfigFileError>
    /// The default `server_name` (nginx takes `gethostname()`).
    var hostname: String { get }
    /// Addresses of a host name, for `listen host:port` and
    /// `set_real_ip_from host`; empty when the name does not resolve.
    func resolveHost(_ name: String) -> [ConfigIPAddress]
}

/// The real environment: files, glob(3), gethostname(2), getaddrinfo(3).
public struct SystemConfigEnvironment: ConfigEnvironment {
    public init() {}

    public func readFile(_ path: String) -> Result<[UInt8], ConfigFileError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return .failure(Self.lastError()) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        // Bounded: a config file larger than 64 MiB is an operator mistake.
        while bytes.count < 64 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Self.lastError())
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return .success(bytes)
    }

    public func glob(_ pattern: String) -> Result<[String], ConfigFileError> {
        var g = glob_t()
        defer { globfree(&g) }
        let rc = Glibc.glob(pattern, 0, nil, &g)
        if rc == GLOB_NOMATCH { return .success([]) }
        if rc != 0 { return .failure(Self.lastError()) }
        var paths: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { paths.append(String(cString: p)) }
        }
        return .success(paths.sorted())
    }

    public var hostname: String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    public func resolveHost(_ name: String) -> [ConfigIPAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0 else { return [] }
        defer { freeaddrinfo(result) }
        var out: [ConfigIPAddress] = []
        var cursor = result
        while let ai = cursor, out.count < 64 {
            if ai.pointee.ai_family == AF_INET, let sa = ai.pointee.ai_addr {
                let addr = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                let bytes = withUnsafeBytes(of: addr) { Array($0) }
                out.append(.v4(bytes))
            } else if ai.pointee.ai_family == AF_INET6, let sa = ai.pointee.ai_addr {
                let addr = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                let bytes = withUnsafeBytes(of: addr) { Array($0) }
                out.append(.v6(bytes))
            }
            cursor = ai.pointee.ai_next
        }
        var seen = Set<ConfigIPAddress>()
        return out.filter { seen.insert($0).inserted }
    }

    static func lastError() -> ConfigFileError {
        let code = errno
        return ConfigFileError(errno: code, reason: String(cString: strerror(code)))
    }
}

/// Files held in memory, for tests and for parsing text handed in directly.
/// Globs match with fnmatch(3) so `*` does not cross `/`, as glob(3).
public struct InMemoryConfigEnvironment: ConfigEnvironment {
    public var files: [String: String]
    public var hostname: String
    public var hosts: [String: [ConfigIPAddress]]

    public init(files: [String: String], hostname: String = "localhost",
                hosts: [String: [ConfigIPAddress]] = [:]) {
        self.files = files
        self.hostname = hostname
        self.hosts = hosts
    }

    public func readFile(_ path: String) -> Result<[UInt8], ConfigFileError> {
        guard let text = files[path] else {
            return .failure(ConfigFileError(errno: ENOENT, reason: "No such file or directory"))
        }
        return .success(Array(text.utf8))
    }

    public func glob(_ pattern: String) -> Result<[String], ConfigFileError> {
        .success(files.keys.filter { fnmatch(pattern, $0, FNM_PATHNAME) == 0 }.sorted())
    }

    public func resolveHost(_ name: String) -> [ConfigIPAddress] {
        hosts[name] ?? []
    }
}
