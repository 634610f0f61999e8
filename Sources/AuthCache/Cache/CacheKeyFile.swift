import Glibc

/// The per-database secret: 32 random bytes in `PATH.key`, mode 0600. The
/// verifiers and the encrypted backend passwords are useless without it,
/// so a copied or leaked database file alone reveals nothing.
enum CacheKeyFile {
    static let keyLength = 32

    /// Reads the key, creating it first when missing. Two threads or
    /// processes racing to create it agree: the key is written to a
    /// private temporary file and published with link(), which fails if
    /// another one won.
    static func loadOrCreate(_ path: String) throws(CacheError) -> [UInt8] {
        if let key = try read(path) { return key }
        let random = try randomBytes(keyLength)
        let temp = path + ".tmp.\(getpid()).\(UInt(bitPattern: Int(bitPattern: pthread_self())))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw fault("cannot create key file \(temp)") }
        let written = random.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        defer { unlink(temp) }
        guard written == keyLength, synced else { throw fault("cannot write key file \(temp)") }
        if link(temp, path) != 0 && errno != EEXIST { throw fault("cannot create key file \(path)") }
        guard let key = try read(path) else { throw fault("cannot read key file \(path)") }
        return key
    }

    private static func read(_ path: String) throws(CacheError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw fault("cannot open key file \(path)")
        }
        defer { close(fd) }
        var key = [UInt8](repeating: 0, count: keyLength + 1)
        let n = key.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n == keyLength else {
            throw CacheError(code: 0, message: "key file \(path) is damaged (\(n) bytes, expected \(keyLength))")
        }
        return Array(key.prefix(keyLength))
    }

    static func randomBytes(_ count: Int) throws(CacheError) -> [UInt8] {
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fault("cannot open /dev/urandom") }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw fault("cannot read /dev/urandom") }
            done += n
        }
        return out
    }

    private static func fault(_ what: String) -> CacheError {
        CacheError(code: 0, message: "\(what): \(String(cString: strerror(errno)))")
    }
}
