import CSQLite
import Glibc

/// One thread's connection to the auth cache. Not Sendable: each session
/// worker thread opens its own (SQLite connections scale per thread, see
/// SWIFT-NOTES §3), and the ledger writer has one more.
///
/// Every operation degrades instead of failing: when the database cannot be
/// opened, is locked, read-only, corrupt or on a full disk, lookups answer
/// `.unavailable`, writes are dropped, the throttle allows, and one line per
/// fault episode reaches the error log. A corrupt file is moved aside to
/// `PATH.corrupt-<unix time>` and a fresh one created.
public final class AuthCacheStore {
    public let shared: AuthCacheShared
    private var settings: AuthCacheSettings { shared.settings }
    private let clock: () -> Int64
    private var db: SQLiteConnection?
    /// The secret key file's key, ready for HMAC (loaded with the connection).
    private var key = HMACSHA256Key([])
    private var retryAt: Int64 = 0
    /// The last client address and its network: a login attempt asks for
    /// both the throttle and the cache, and a thread serves one client at a time.
    private var lastClientIP = ""
    private var lastNetwork: String?

    /// - clock: Unix seconds; tests inject their own.
    public init(shared: AuthCacheShared, clock: @escaping () -> Int64 = wallClockSeconds) {
        self.shared = shared
        self.clock = clock
    }

    // MARK: - Cached logins

    /// The cached backend for this exact (protocol, login, password, client
    /// network) if the auth service accepted it within its TTL.
    public func lookup(protocolName: String, login: [UInt8], password: [UInt8], clientIP: String) -> CacheLookup {
        let started = monotonicNanos()
        defer { shared.counters.lookupNanoseconds.add(monotonicNanos() &- started, ordering: .relaxed) }
        guard let network = network(of: clientIP) else {
            shared.counters.misses.add(1, ordering: .relaxed)
            return .miss
        }
        let now = clock()
        let result = withDatabase { db throws(CacheError) -> CachedBackend? in
            let id = lookupID(protocolName, login, network)
            let s = try db.statement("""
                SELECT salt, verifier, backend_host, backend_port, backend_user, backend_pass
                FROM cached_logins WHERE lookup_id = ? AND expires_at > ?
                """)
            s.bind(1, blob: id).bind(2, now)
            guard try s.step(), let salt = s.blob(0), let verifier = s.blob(1) else { return nil }
            let expected = self.verifier(salt, protocolName, login, password, network)
            guard constantTimeEqual(expected, verifier) else { return nil }
            let backend = CachedBackend(
                host: s.text(2) ?? "", port: Int(s.int(3)), user: s.blob(4),
                password: s.blob(5).map { crypt($0, salt: salt, password: password) })
            // The hit counter is for operators only: the background writer adds it up.
            shared.noteHit(lookupID: id, at: now)
            return backend
        }
        switch result {
        case .none:
            shared.counters.unavailable.add(1, ordering: .relaxed)
            return .unavailable
        case .some(.none):
            shared.counters.misses.add(1, ordering: .relaxed)
            return .miss
        case .some(.some(let backend)):
            shared.counters.hits.add(1, ordering: .relaxed)
            return .hit(backend)
        }
    }

    /// Remembers a login the auth service accepted. `ttlSeconds` is
    /// Auth-Cache-TTL when the service sent one (0: do not cache), else
    /// `auth_cache_ttl`.
    public func store(protocolName: String, login: [UInt8], password: [UInt8], clientIP: String,
                      backend: CachedBackend, ttlSeconds: Int64? = nil) {
        let ttl = ttlSeconds ?? settings.ttlSeconds
        guard ttl > 0, let network = network(of: clientIP) else { return }
        let now = clock()
        let stored: Void? = withDatabase { db throws(CacheError) in
            try insertCachedLogin(db, protocolName, login, password, network, backend, now: now, ttl: ttl)
        }
        if stored != nil { shared.counters.stored.add(1, ordering: .relaxed) }
    }

    /// The auth service accepted: notes the login's network as the owner's
    /// (throttle on; see `ownerMemorySeconds`) and stores the answer (`cacheable`, TTL above 0) in one
    /// write transaction, one commit on the session thread instead of two.
    public func recordAccepted(protocolName: String, login: [UInt8], password: [UInt8], clientIP: String,
                               cacheable: Bool, backend: CachedBackend, ttlSeconds: Int64? = nil) {
        let ttl = ttlSeconds ?? settings.ttlSeconds
        let storing = cacheable && ttl > 0
        let noting = settings.throttle.enabled
        guard storing || noting, let network = network(of: clientIP) else { return }
        let now = clock()
        let done: Void? = withDatabase { db throws(CacheError) in
            try db.writeTransaction { () throws(CacheError) in
                if noting { try insertLoginNetwork(db, login, network, now: now) }
                if storing { try insertCachedLogin(db, protocolName, login, password, network, backend, now: now, ttl: ttl) }
            }
        }
        if done != nil && storing { shared.counters.stored.add(1, ordering: .relaxed) }
    }

    private func insertCachedLogin(_ db: SQLiteConnection, _ protocolName: String, _ login: [UInt8],
                                   _ password: [UInt8], _ network: String, _ backend: CachedBackend,
                                   now: Int64, ttl: Int64) throws(CacheError) {
        let salt = try CacheKeyFile.randomBytes(16)
        let s = try db.statement("""
            INSERT OR REPLACE INTO cached_logins (lookup_id, salt, verifier, protocol, login, network,
                backend_host, backend_port, backend_user, backend_pass, created_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        s.bind(1, blob: lookupID(protocolName, login, network))
        s.bind(2, blob: salt)
        s.bind(3, blob: verifier(salt, protocolName, login, password, network))
        s.bind(4, text: protocolName).bind(5, text: displayLogin(login)).bind(6, text: network)
        s.bind(7, text: backend.host).bind(8, Int64(backend.port))
        s.bind(9, blob: backend.user)
        // A backend password that is the client's own needs no copy: a hit has it already.
        let backendPassword = backend.password == password ? nil : backend.password
        s.bind(10, blob: backendPassword.map { crypt($0, salt: salt, password: password) })
        s.bind(11, now).bind(12, now + ttl)
        try s.run()
    }

    private func insertLoginNetwork(_ db: SQLiteConnection, _ login: [UInt8], _ network: String,
                                    now: Int64) throws(CacheError) {
        try db.statement("INSERT OR REPLACE INTO login_networks (login, network, last_success_at) VALUES (?, ?, ?)")
            .bind(1, text: displayLogin(login)).bind(2, text: network).bind(3, now).run()
    }

    /// Forgets a cached login (the backend refused it, or the password changed).
    public func forget(protocolName: String, login: [UInt8], clientIP: String) {
        guard let network = network(of: clientIP) else { return }
        _ = withDatabase { db throws(CacheError) in
            try db.statement("DELETE FROM cached_logins WHERE lookup_id = ?")
                .bind(1, blob: lookupID(protocolName, login, network)).run()
        }
    }

    /// The throttle check and then, when allowed and `cacheable`, the cache
    /// lookup of one login attempt, in one read transaction: one snapshot, and
    /// the WAL read lock (an fcntl pair on the -shm file) taken once instead of
    /// once per statement. Writes (a refused attempt's count) come after it.
    public func checkBeforeLogin(protocolName: String, login: [UInt8], password: [UInt8], clientIP: String,
                                 cacheable: Bool) -> (ThrottleDecision, CacheLookup?) {
        let began: Void? = withDatabase { db throws(CacheError) in try db.statement("BEGIN").run() }
        defer { if began != nil { endReadTransaction() } }
        let throttle = throttleCheck(login: login, clientIP: clientIP)
        guard case .allow = throttle, cacheable else { return (throttle, nil) }
        return (throttle, lookup(protocolName: protocolName, login: login, password: password, clientIP: clientIP))
    }

    /// Ends `checkBeforeLogin`'s transaction on the connection it began on; a
    /// fault that closed the connection ended it already.
    private func endReadTransaction() {
        guard let db, db.inTransaction else { return }
        db.resetAll()
        do throws(CacheError) {
            try db.statement("COMMIT").run()
        } catch {
            try? db.statement("ROLLBACK").run()
        }
        db.resetAll()
    }

    // MARK: - Throttle

    /// Whether this attempt may go on to the auth service (or the cache).
    public func throttleCheck(login: [UInt8], clientIP: String) -> ThrottleDecision {
        let policy = settings.throttle
        guard policy.enabled else { return .allow }
        let network = network(of: clientIP) ?? clientIP
        let name = displayLogin(login)
        let now = clock()
        let banned = withDatabase { db throws(CacheError) -> Bool in
            // Two point queries: one statement with OR cost more in SQLite's planner than both.
            if policy.isBanned(try failureRecord(db, "address", network), now: now) { return true }
            guard policy.isBanned(try failureRecord(db, "login", name), now: now) else { return false }
            // The owner, coming from where the login last worked, is let through.
            let s = try db.statement("SELECT last_success_at FROM login_networks WHERE login = ? AND network = ?")
            s.bind(1, text: name).bind(2, text: network)
            if try s.step(), s.int(0) + policy.ownerMemorySeconds > now { return false }
            return true
        }
        guard banned == true else { return .allow }
        shared.counters.throttled.add(1, ordering: .relaxed)
        return .refuse(delayMillis: policy.delayMillis)
    }

    /// Counts a refused login against the client's network and the login.
    public func recordFailure(login: [UInt8], clientIP: String) {
        let policy = settings.throttle
        guard policy.enabled else { return }
        let network = network(of: clientIP) ?? clientIP
        let now = clock()
        let done: Void? = withDatabase { db throws(CacheError) in
            try db.writeTransaction { () throws(CacheError) in
                for (kind, subject) in [("address", network), ("login", displayLogin(login))] {
                    let next = policy.afterFailure(try failureRecord(db, kind, subject), now: now)
                    try saveFailure(db, kind, subject, next)
                }
            }
        }
        if done != nil { shared.counters.failuresRecorded.add(1, ordering: .relaxed) }
    }

    func failureRecord(_ db: SQLiteConnection, _ kind: String, _ subject: String) throws(CacheError) -> FailureRecord? {
        let s = try db.statement("""
            SELECT failures, window_start, last_failure_at, bans, banned_until
            FROM auth_failures WHERE kind = ? AND subject = ?
            """)
        s.bind(1, text: kind).bind(2, text: subject)
        guard try s.step() else { return nil }
        return FailureRecord(failures: Int(s.int(0)), windowStart: s.int(1), lastFailure: s.int(2),
                             bans: Int(s.int(3)), bannedUntil: s.int(4))
    }

    private func saveFailure(_ db: SQLiteConnection, _ kind: String, _ subject: String,
                             _ r: FailureRecord) throws(CacheError) {
        let s = try db.statement("""
            INSERT OR REPLACE INTO auth_failures (kind, subject, failures, window_start, last_failure_at, bans, banned_until)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        s.bind(1, text: kind).bind(2, text: subject).bind(3, Int64(r.failures)).bind(4, r.windowStart)
        s.bind(5, r.lastFailure).bind(6, Int64(r.bans)).bind(7, r.bannedUntil)
        try s.run()
    }

    // MARK: - Ledger and housekeeping

    /// Writes finished sessions in one transaction. False when the cache is
    /// faulted (the caller keeps or drops the entries).
    @discardableResult
    public func writeLedger(_ entries: [LedgerEntry]) -> Bool {
        guard !entries.isEmpty else { return true }
        let done: Void? = withDatabase { db throws(CacheError) in
            try db.writeTransaction { () throws(CacheError) in
                let s = try db.statement("""
                    INSERT INTO sessions (started_at, ended_at, client_addr, client_port, protocol, login, from_cache,
                        backend, tls_version, bytes_in, bytes_out, outcome, reason)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for e in entries {
                    s.bind(1, e.startedAt).bind(2, e.endedAt).bind(3, text: e.clientAddress)
                    s.bind(4, e.clientPort.map(Int64.init)).bind(5, text: e.protocolName).bind(6, text: e.login)
                    s.bind(7, Int64(e.fromCache ? 1 : 0)).bind(8, text: e.backend).bind(9, text: e.tlsVersion)
                    s.bind(10, Int64(clamping: e.bytesIn)).bind(11, Int64(clamping: e.bytesOut))
                    s.bind(12, text: e.outcome).bind(13, text: e.reason)
                    try s.run()
                }
            }
        }
        if done != nil { shared.counters.ledgerWritten.add(UInt64(entries.count), ordering: .relaxed) }
        return done != nil
    }

    /// Adds noted hits to `cached_logins` in one transaction. False when
    /// the cache is faulted (the counts are then lost: they are statistics).
    @discardableResult
    func writeHits(_ hits: [[UInt8]: PendingHit]) -> Bool {
        guard !hits.isEmpty else { return true }
        let done: Void? = withDatabase { db throws(CacheError) in
            try db.writeTransaction { () throws(CacheError) in
                let s = try db.statement("""
                    UPDATE cached_logins SET hits = hits + ?, last_hit_at = max(coalesce(last_hit_at, 0), ?)
                    WHERE lookup_id = ?
                    """)
                for (id, hit) in hits {
                    s.bind(1, hit.count).bind(2, hit.lastAt).bind(3, blob: id)
                    try s.run()
                }
            }
        }
        return done != nil
    }

    /// Deletes expired logins, forgotten failures, stale owner networks and
    /// sessions past retention. Returns the rows deleted, nil when faulted.
    @discardableResult
    public func purgeExpired() -> Int? {
        let now = clock()
        let policy = settings.throttle
        return withDatabase { db throws(CacheError) -> Int in
            var deleted = 0
            try db.statement("DELETE FROM cached_logins WHERE expires_at <= ?").bind(1, now).run()
            deleted += db.changes
            try db.statement("DELETE FROM auth_failures WHERE max(last_failure_at, banned_until) <= ?")
                .bind(1, now - policy.memorySeconds).run()
            deleted += db.changes
            try db.statement("DELETE FROM login_networks WHERE last_success_at <= ?")
                .bind(1, now - policy.ownerMemorySeconds).run()
            deleted += db.changes
            try db.statement("DELETE FROM sessions WHERE ended_at <= ?")
                .bind(1, Double(now - settings.ledgerRetentionSeconds)).run()
            deleted += db.changes
            return deleted
        }
    }

    // MARK: - Keys

    private func network(of clientIP: String) -> String? {
        if clientIP != lastClientIP || lastNetwork == nil {
            lastNetwork = clientNetwork(clientIP, prefix: settings.clientPrefix)
            lastClientIP = clientIP
        }
        return lastNetwork
    }

    private func lookupID(_ proto: String, _ login: [UInt8], _ network: String) -> [UInt8] {
        var m = Array("postern-lookup".utf8)
        appendField(&m, Array(proto.utf8))
        appendField(&m, login)
        appendField(&m, Array(network.utf8))
        return key.mac(m)
    }

    private func verifier(_ salt: [UInt8], _ proto: String, _ login: [UInt8], _ password: [UInt8],
                          _ network: String) -> [UInt8] {
        var m = Array("postern-verify".utf8)
        appendField(&m, salt)
        appendField(&m, Array(proto.utf8))
        appendField(&m, login)
        appendField(&m, password)
        appendField(&m, Array(network.utf8))
        return key.mac(m)
    }

    /// Encrypts or decrypts (XOR is its own inverse) a backend password with
    /// an HMAC-SHA256 keystream under a key from the secret, the row's salt
    /// and the client's password: the database and key file together still
    /// do not yield it without the client's password.
    private func crypt(_ data: [UInt8], salt: [UInt8], password: [UInt8]) -> [UInt8] {
        var m = Array("postern-backend-pass".utf8)
        appendField(&m, salt)
        appendField(&m, password)
        let streamKey = HMACSHA256Key(key.mac(m))
        var out: [UInt8] = []
        out.reserveCapacity(data.count)
        var block: UInt32 = 0
        while out.count < data.count {
            let stream = streamKey.mac(withUnsafeBytes(of: block.bigEndian) { Array($0) })
            for b in stream where out.count < data.count { out.append(data[out.count] ^ b) }
            block += 1
        }
        return out
    }

    /// Length-prefixed, so ("ab","c") and ("a","bc") never hash alike.
    private func appendField(_ m: inout [UInt8], _ field: [UInt8]) {
        let n = UInt32(clamping: field.count)
        m += withUnsafeBytes(of: n.bigEndian) { Array($0) }
        m += field
    }

    // MARK: - Faults

    /// Runs `body` on an open connection; nil when the cache is faulted.
    private func withDatabase<T>(_ body: (SQLiteConnection) throws(CacheError) -> T) -> T? {
        let now = clock()
        // During a fault episode, answer at once instead of waiting on a
        // lock or a dead file for every login.
        guard now >= retryAt else { return nil }
        if db == nil {
            do throws(CacheError) {
                try open()
            } catch {
                fault(error, now: now)
                return nil
            }
        }
        guard let db else { return nil }
        defer { self.db?.resetAll() }
        do throws(CacheError) {
            let value = try body(db)
            shared.reportWorking()
            return value
        } catch {
            fault(error, now: now)
            return nil
        }
    }

    private func fault(_ error: CacheError, now: Int64) {
        shared.reportFault(error)
        switch error.kind {
        case .locked:
            // Keep the connection: the lock is someone else's and passes.
            retryAt = now + 1
        case .corrupt:
            db = nil
            moveAside(now: now)
            // Recreate on the next call: the file is gone, so this is no loop.
            retryAt = now
        default:
            db = nil
            retryAt = now + settings.retryAfterFaultSeconds
        }
    }

    private func open() throws(CacheError) {
        let path = settings.path
        // Create the file 0600 ourselves; SQLite gives -wal and -shm the same mode.
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 {
            // A file someone made readable to others is tightened: it names logins and bans.
            var st = stat()
            if fstat(fd, &st) == 0 && st.st_mode & 0o077 != 0 { fchmod(fd, 0o600) }
            Glibc.close(fd)
        }
        key = HMACSHA256Key(try CacheKeyFile.loadOrCreate(settings.keyPath))
        let connection = try SQLiteConnection(path: path, busyTimeoutMillis: settings.busyTimeoutMillis)
        try connection.execute("PRAGMA journal_mode = WAL")
        try connection.execute("PRAGMA synchronous = NORMAL")
        try connection.migrate()
        db = connection
    }

    private func moveAside(now: Int64) {
        let path = settings.path
        let target = "\(path).corrupt-\(now)"
        if rename(path, target) == 0 {
            shared.log(.error, "auth cache \"\(path)\" is corrupt, moved to \"\(target)\", starting a new one")
        }
        unlink(path + "-wal")
        unlink(path + "-shm")
    }
}

/// A login as stored for display and throttling: printable ASCII kept,
/// anything else as \xHH, so the sqlite3 shell shows it safely.
func displayLogin(_ bytes: [UInt8]) -> String {
    var out = ""
    for b in bytes.prefix(256) {
        if b >= 0x20 && b < 0x7f && b != UInt8(ascii: "\\") {
            out.unicodeScalars.append(Unicode.Scalar(b))
        } else {
            let hex = String(b, radix: 16, uppercase: true)
            out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    return out
}

public func wallClockSeconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec)
}

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Unix time with fractions, for the ledger's start and end times.
public func ledgerTimestamp() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
