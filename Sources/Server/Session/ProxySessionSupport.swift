import Glibc
import AuthCache
import Protocols

/// A pre-login state machine (IMAPSession, POP3Session, SMTPSession) as the
/// shared driver loop sees it: events in, actions out.
protocol ProxiedSessionMachine {
    mutating func start() -> [SessionAction]
    mutating func receive(_ bytes: some Collection<UInt8>) -> [SessionAction]
    var inputSpace: Int { get }
    var loginAttempt: Int { get }
    /// True once the auth service accepted and the backend comes next.
    var isAuthenticated: Bool { get }
    mutating func takeBufferedInput() -> [UInt8]
    mutating func finishAuth(_ verdict: AuthVerdict) -> [SessionAction]
    /// After the STARTTLS handshake: forget everything learned before it.
    mutating func tlsEstablished() -> [SessionAction]
}

/// The auth service's answer as a session needs it.
struct AuthVerdict {
    var result: AuthResult
    /// `Auth-Error-Code` (SMTP only: "550 5.1.1").
    var errorCode: String?
}

/// Where the auth service sent an accepted login.
struct AuthAccepted {
    var server: SocketAddress
    var upstreamName: String
    var user: [UInt8]
    var password: [UInt8]
}

extension IMAPSession: ProxiedSessionMachine {
    var isAuthenticated: Bool { state == .authenticated }
    mutating func finishAuth(_ verdict: AuthVerdict) -> [SessionAction] { authFinished(verdict.result) }
}

extension POP3Session: ProxiedSessionMachine {
    var isAuthenticated: Bool { state == .authenticated }
    mutating func finishAuth(_ verdict: AuthVerdict) -> [SessionAction] { authFinished(verdict.result) }
}

extension SMTPSession: ProxiedSessionMachine {
    var isAuthenticated: Bool { state == .authenticated }
    mutating func finishAuth(_ verdict: AuthVerdict) -> [SessionAction] {
        authFinished(verdict.result, errorCode: verdict.errorCode)
    }
}

/// What the IMAP, POP3 and SMTP drivers share: the client socket and its one
/// close path, the pre-login read loop, the auth_http call (with Auth-Wait),
/// the backend connect and login script runner, and the hand-off to the
/// relay with the "session finished" line. Every wait is bounded by
/// `timeout` (nginx's pre-login timeout).
struct ProxySessionCore {
    let client: SessionConnection
    /// The listener's server block, or the one SNI chose (`adopt`).
    private(set) var settings: ProxySettings
    let services: SessionServices
    let worker: SessionWorker
    var log: SessionLog
    let clientAddress: SocketAddress?
    /// The client after any PROXY protocol header and `set_real_ip_from`.
    var peer: ClientPeer
    /// nil with `auth_cache off`: then nothing below touches SQLite.
    var cacheGate: AuthCacheGate?
    /// What the auth service accepted, kept for the cache.
    var acceptedForCache: (backend: CachedBackend, ttl: Int?)?
    let startedAt = ledgerTimestamp()
    /// The ledger's outcome if the session ends before the relay.
    var outcome = "closed"
    /// The confirmed client name, looked up once by `logConnected`.
    private(set) var clientName: ClientName?
    /// The client's TLS protocol ("TLSv1.3") once a handshake succeeded, for the ledger.
    var tlsVersion: String?

    init(client: Socket, settings: ProxySettings, services: SessionServices, worker: SessionWorker,
         connection: UInt64, serverAddress: String, peer: ClientPeer? = nil) {
        self.client = SessionConnection(client)
        self.peer = peer ?? .direct(client)
        self.settings = settings
        self.services = services
        self.worker = worker
        self.clientAddress = self.peer.address
        log = SessionLog(log: services.log, context: LogContext(
            connection: connection, client: clientAddress?.hostText ?? "unknown", server: serverAddress,
            action: "in auth state"))
        cacheGate = Self.makeCacheGate(settings, worker: worker, services: services, clientAddress: clientAddress)
    }

    private static func makeCacheGate(_ settings: ProxySettings, worker: SessionWorker, services: SessionServices,
                                      clientAddress: SocketAddress?) -> AuthCacheGate? {
        guard let cache = settings.authCache, let address = clientAddress, address.port != nil else { return nil }
        return AuthCacheGate(store: worker.authCache(cache, log: services.log),
                             protocolName: settings.mailProtocol.rawValue, clientIP: address.hostText)
    }

    /// Serves the session with the server block SNI chose on a shared
    /// `listen ... ssl` address (its timeouts, auth service, cache, ...).
    mutating func adopt(_ selected: ProxySettings) {
        settings = selected
        cacheGate = Self.makeCacheGate(selected, worker: worker, services: services, clientAddress: clientAddress)
    }

    var protocolName: String { settings.mailProtocol.rawValue }
    var clientIP: String { clientAddress?.hostText ?? "" }

    /// Logs the connection; with a `resolver`, the confirmed client name goes
    /// into this line. Returns that name (looked up once per session: a failed
    /// lookup is not cached, so asking again would wait out the timeout again).
    @discardableResult
    mutating func logConnected() -> ClientName {
        let clientName = settings.clientName(for: peer)
        self.clientName = clientName
        let name = settings.resolver.map { _ in " (\(clientName.text))" } ?? ""
        log.info("client \(clientAddress?.description ?? "unknown")\(name) connected to \(log.context.server ?? "")")
        return clientName
    }

    // MARK: - Pre-login loop

    /// Runs `session` from `initial` until the auth service accepted a login
    /// (returned, with the credentials) or the client is gone (nil; the
    /// close path has run). `request` builds the auth_http request for the
    /// protocol from the credentials and the session as it is then.
    mutating func runUntilLogin<M: ProxiedSessionMachine>(
        _ session: inout M, initial: [SessionAction], request: (Credentials, M) -> AuthRequest
    ) -> (Credentials, AuthAccepted)? {
        var pending = initial
        while true {
            switch perform(&pending, session: &session, request: request) {
            case .finished:
                return nil
            case .proceedToBackend(let credentials, let auth):
                return (credentials, auth)
            case .readMore:
                break
            }
            let result: ReadResult
            do {
                result = try client.readSome(max: max(session.inputSpace, 1),
                                             deadline: .after(millis: settings.timeoutMillis))
            } catch {
                close(reason: "client read failed", level: .info, ioError: error)
                return nil
            }
            switch result {
            case .bytes(let bytes):
                pending = session.receive(bytes)
            case .endOfStream:
                close(reason: "client closed connection", level: .info)
                return nil
            case .timedOut:
                close(reason: "client timed out", level: .info, error: .timedOut)
                return nil
            }
        }
    }

    private enum Step {
        case readMore
        case finished
        case proceedToBackend(Credentials, AuthAccepted)
    }

    /// Performs queued actions in order; an auth answer can queue more.
    private mutating func perform<M: ProxiedSessionMachine>(
        _ actions: inout [SessionAction], session: inout M, request: (Credentials, M) -> AuthRequest
    ) -> Step {
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .send(let bytes):
                guard send(bytes) else { return .finished }
            case .close(let reason):
                close(reason: describe(reason), level: .info)
                return .finished
            case .startTLS:
                // The session answered STARTTLS/STLS and drops what followed it.
                guard startTLS() else { return .finished }
                actions.append(contentsOf: session.tlsEstablished())
            case .authenticate(let credentials):
                if credentials.method != .none { log.set(login: printable(credentials.user)) }
                var authRequest = request(credentials, session)
                authRequest.ssl = authSSLInfo
                // Proxy-Protocol-Addr/-Port/-Server-Addr/-Server-Port, as nginx sends them.
                authRequest.proxyProtocol = peer.authProxyProtocol
                let (verdict, accepted) = authenticate(authRequest, credentials: credentials)
                actions.append(contentsOf: session.finishAuth(verdict))
                if let accepted, session.isAuthenticated {
                    // Replies queued with the answer go out before the backend is tried.
                    var rest = Array(actions[index...])
                    if case .finished = perform(&rest, session: &session, request: request) { return .finished }
                    return .proceedToBackend(credentials, accepted)
                }
            }
        }
        actions.removeAll()
        return .readMore
    }

    // MARK: - Auth cache and auth service

    /// The auth cache's throttle and answer first, when `auth_cache` is on;
    /// the auth service otherwise. Only PLAIN and LOGIN carry a password worth caching.
    mutating func authenticate(_ request: AuthRequest, credentials: Credentials) -> (AuthVerdict, AuthAccepted?) {
        guard var gate = cacheGate else { return askAuthService(request, credentials: credentials) }
        defer { cacheGate = gate }
        let cacheable = credentials.method == .plain || credentials.method == .login
        switch gate.before(cacheable: cacheable, login: credentials.user, password: credentials.password) {
        case .refuse(let delay):
            log.info("client login throttled")
            outcome = "throttled"
            sleepMillis(min(delay, settings.timeoutMillis))
            return (AuthVerdict(result: .rejected(message: nil)), nil)
        case .hit(let backend):
            if let address = SocketAddress.ip(backend.host, port: UInt16(clamping: backend.port)) {
                log.debug("auth cache hit")
                return (AuthVerdict(result: .accepted), AuthAccepted(
                    server: address, upstreamName: address.description, user: backend.user ?? credentials.user,
                    password: backend.password ?? credentials.password))
            }
        case .askAuthService:
            break
        }
        acceptedForCache = nil
        let (verdict, accepted) = askAuthService(request, credentials: credentials)
        switch verdict.result {
        case .accepted:
            if let (backend, ttl) = acceptedForCache {
                gate.accepted(cacheable: cacheable, login: credentials.user, password: credentials.password,
                              backend: backend, authCacheTTL: ttl)
            }
        case .rejected, .rejectedFinal:
            outcome = "rejected"
            gate.rejected(login: credentials.user)
        default:
            break
        }
        return (verdict, accepted)
    }

    /// One auth_http exchange, repeated a few times on "Auth-Status: WAIT".
    mutating func askAuthService(_ request: AuthRequest, credentials: Credentials) -> (AuthVerdict, AuthAccepted?) {
        log.set(action: "in http auth state")
        defer { log.set(action: "in auth state") }
        let client = worker.auth
        var answer = client.authenticate(request, url: settings.authURL, timeoutMillis: settings.authTimeoutMillis)
        // nginx repeats a WAIT answer without bound; we stop after a few rounds.
        var rounds = 0
        while case .success(.retry(let seconds)) = answer, rounds < 3 {
            rounds += 1
            sleepMillis(min(max(seconds, 0) * 1000, settings.timeoutMillis))
            answer = client.authenticate(request, url: settings.authURL, timeoutMillis: settings.authTimeoutMillis)
        }
        switch answer {
        case .failure(let error):
            log.error("auth http server \(settings.authURL) failed: \(error)")
            return (AuthVerdict(result: .tempFail), nil)
        case .success(.retry):
            log.error("auth http server \(settings.authURL) kept answering WAIT")
            return (AuthVerdict(result: .tempFail), nil)
        case .success(.tempFail(let reason)):
            log.error("auth http server \(settings.authURL): \(reason)")
            return (AuthVerdict(result: .tempFail), nil)
        case .success(.rejected(let message, let wait, let errorCode)):
            log.info("client login failed: \"\(message)\"")
            guard let wait, wait > 0 else {
                return (AuthVerdict(result: .rejectedFinal(message: message), errorCode: errorCode), nil)
            }
            // Auth-Wait slows guessing down; bounded by `timeout` so a hostile
            // answer cannot park a session thread for long.
            sleepMillis(min(wait * 1000, settings.timeoutMillis))
            return (AuthVerdict(result: .rejected(message: message), errorCode: errorCode), nil)
        case .success(.accepted(let server, let port, let user, let password, let cacheTTL)):
            guard let address = SocketAddress.ip(server, port: UInt16(clamping: port)) else {
                log.error("auth http server \(settings.authURL) sent invalid server address:\"\(server)\"")
                return (AuthVerdict(result: .tempFail), nil)
            }
            let backendPassword: [UInt8]
            if let password {
                backendPassword = password
            } else if credentials.method == .plain || credentials.method == .login {
                backendPassword = credentials.password
            } else if settings.mailProtocol == .smtp {
                // nginx needs no password for SMTP: XCLIENT carries the login.
                backendPassword = []
            } else {
                // A challenge-response digest is no password for the backend.
                log.error("auth http server \(settings.authURL) did not send password")
                return (AuthVerdict(result: .tempFail), nil)
            }
            if rounds == 0 {
                // An answer reached through Auth-Status: WAIT rounds is not cached.
                acceptedForCache = (CachedBackend(host: server, port: port, user: user, password: password), cacheTTL)
            }
            return (AuthVerdict(result: .accepted), AuthAccepted(
                server: address, upstreamName: address.description,
                user: user ?? credentials.user, password: backendPassword))
        }
    }

    // MARK: - Backend

    /// Connects to the backend and runs a login script (`step` feeds it the
    /// backend's bytes). Returns the logged-in backend and the reply for the
    /// client, or nil after answering the client and closing both sides.
    /// `login` is the client's, for the cache's failure count.
    mutating func connectAndLogIn(
        _ auth: AuthAccepted, login: [UInt8], step: ([UInt8]) -> [BackendLoginAction]
    ) -> (backend: SessionConnection, clientReply: [UInt8])? {
        log.set(upstream: auth.upstreamName)
        if !auth.user.isEmpty { log.set(login: printable(auth.user)) }
        log.set(action: "connecting to upstream")
        let backend: SessionConnection
        // Nothing goes to the backend before its greeting unless a PROXY header or
        // TLS does: then the connect is waited for. Else the greeting's read waits
        // for both, as nginx's does, one wake-up instead of two on a real network.
        let writesFirst = settings.backendProxyProtocol != .off || settings.backendTLS != nil
        var connecting: Bool
        do {
            let (socket, inProgress) = try Socket.startConnect(to: auth.server)
            if inProgress && writesFirst { try socket.finishConnect(deadline: .after(millis: settings.timeoutMillis)) }
            backend = SessionConnection(socket)
            connecting = inProgress && !writesFirst
        } catch {
            connectFailed(error, backend: nil)
            return nil
        }
        // The client's was set when the session started.
        backend.setNoDelay()
        // Looked up at accept only when the listener's server block wanted it; SNI may have picked another.
        if settings.backendProxyProtocol != .off && peer.localAddress == nil { peer.localAddress = client.socket.localAddress }
        if let header = peer.backendHeader(version: settings.backendProxyProtocol) {
            log.set(action: "sending PROXY protocol header to upstream")
            do {
                try backend.writeAll(header, deadline: .after(millis: settings.timeoutMillis))
            } catch {
                log.error("upstream write failed", error: error.errno)
                backend.close()
                _ = send(settings.mailProtocol.internalServerErrorReply)
                close(reason: "upstream write failed", level: .info)
                return nil
            }
        }
        // `proxy_ssl on`: TLS after the TCP connect and PROXY header, before the greeting.
        guard connectBackendTLS(backend, auth: auth) else { return nil }

        if !connecting { log.set(action: "reading response from upstream") }
        while true {
            let result: ReadResult
            do {
                result = try backend.readSome(max: 16 * 1024, deadline: .after(millis: settings.timeoutMillis))
            } catch {
                if connecting, let errno = error.errno {
                    connectFailed(errno, backend: backend)
                } else {
                    upstreamFailed(backend, "upstream read failed", ioError: error)
                }
                return nil
            }
            if connecting {
                connecting = false
                log.set(action: "reading response from upstream")
            }
            switch result {
            case .timedOut:
                upstreamFailed(backend, "upstream timed out", error: .timedOut)
                return nil
            case .endOfStream:
                upstreamFailed(backend, "upstream prematurely closed connection", error: nil)
                return nil
            case .bytes(let bytes):
                for action in step(bytes) {
                    switch action {
                    case .sendToBackend(let out):
                        do {
                            try backend.writeAll(out, deadline: .after(millis: settings.timeoutMillis))
                        } catch {
                            upstreamFailed(backend, "upstream write failed", ioError: error)
                            return nil
                        }
                    case .loggedIn(let clientReply, let leftover):
                        return (backend, clientReply + leftover)
                    case .failed(let failure):
                        backendLoginFailed(backend, failure, login: login)
                        return nil
                    }
                }
            }
        }
    }

    /// Answers the client, forwards what it pipelined behind its login, and
    /// hands the pair to the relay.
    mutating func startRelay(backend: SessionConnection, clientReply: [UInt8], early: [UInt8]) {
        guard send(clientReply) else {
            backend.close()
            close(reason: "client write failed", level: .info)
            return
        }
        if !early.isEmpty {
            do {
                try backend.writeAll(early, deadline: .after(millis: settings.timeoutMillis))
            } catch {
                upstreamFailed(backend, "upstream write failed", ioError: error)
                return
            }
        }
        log.set(action: "proxying")
        let sessionLog = log
        let services = self.services
        let name = protocolName
        let started = monotonicNanoseconds()
        let ledger = ledgerEntry(outcome: "proxied", reason: nil)
        let cacheShared = cacheGate?.store.shared
        services.relay.add(client: client.relayEndpoint, backend: backend.relayEndpoint,
                           options: settings.relay, local: worker.relayLocal) { stats in
            let seconds = Double(monotonicNanoseconds() - started) / 1e9
            sessionLog.info("session finished: protocol=\(name) bytes_in=\(stats.bytesClientToBackend) "
                + "bytes_out=\(stats.bytesBackendToClient) duration=\(formatSeconds(seconds)) "
                + "reason=\(describe(stats.reason))")
            if var ledger, let cacheShared {
                ledger.endedAt = ledgerTimestamp()
                ledger.bytesIn = UInt64(stats.bytesClientToBackend)
                ledger.bytesOut = UInt64(stats.bytesBackendToClient)
                ledger.reason = describe(stats.reason)
                cacheShared.enqueue(ledger)
            }
            services.sessionEnded()
        }
    }

    /// The session's row for the cache's ledger; nil without a cache.
    private func ledgerEntry(outcome: String, reason: String?) -> LedgerEntry? {
        guard let gate = cacheGate else { return nil }
        return LedgerEntry(startedAt: startedAt, endedAt: ledgerTimestamp(), clientAddress: gate.clientIP,
                           clientPort: clientAddress?.port.map(Int.init), protocolName: settings.mailProtocol.rawValue,
                           login: log.context.login, fromCache: gate.fromCache, backend: log.context.upstream,
                           tlsVersion: tlsVersion, bytesIn: 0, bytesOut: 0, outcome: outcome, reason: reason)
    }

    private mutating func backendLoginFailed(_ backend: SessionConnection, _ failure: UpstreamError, login: [UInt8]) {
        outcome = "failed"
        backend.close()
        switch failure {
        case .authFailedReplied(let reply):
            log.info("upstream refused the login")
            cacheGate?.backendRefused(login: login)
            _ = send(reply)
        case .authFailedNotReplied:
            log.error("upstream sent invalid response")
            _ = send(settings.mailProtocol.internalServerErrorReply)
        case .protocolViolation(let what):
            log.error("upstream sent invalid response: \(what)")
            _ = send(settings.mailProtocol.internalServerErrorReply)
        case .tempFail(let what):
            log.error("upstream failed: \(what)")
            _ = send(settings.mailProtocol.internalServerErrorReply)
        }
        close(reason: "upstream login failed", level: .info)
    }

    /// The backend connect failed, at once or (connect not waited for) at the greeting's read.
    private mutating func connectFailed(_ error: Errno, backend: SessionConnection?) {
        log.error("connect() failed", error: error)
        backend?.close()
        _ = send(settings.mailProtocol.internalServerErrorReply)
        close(reason: "upstream connect failed", level: .info)
    }

    private mutating func upstreamFailed(_ backend: SessionConnection, _ what: String, ioError: SessionIOError) {
        upstreamFailed(backend, ioError.errno == nil ? "\(what): \(ioError)" : what, error: ioError.errno)
    }

    mutating func upstreamFailed(_ backend: SessionConnection, _ what: String, error: Errno?) {
        outcome = "failed"
        log.error(what, error: error)
        backend.close()
        _ = send(settings.mailProtocol.internalServerErrorReply)
        close(reason: what, level: .info)
    }

    // MARK: - Client I/O and the one close path

    func send(_ bytes: [UInt8]) -> Bool {
        do {
            try client.writeAll(bytes, deadline: .after(millis: settings.timeoutMillis))
            return true
        } catch {
            log.info(error.errno == nil ? "client write failed: \(error)" : "client write failed", error: error.errno)
            return false
        }
    }

    /// `close` for a failed read or write: a TLS failure has no errno, its text goes into the line.
    mutating func close(reason: String, level: LogLevel, ioError: SessionIOError) {
        if ioError.errno == nil {
            log.log(level, "\(reason): \(ioError)")
            close(reason: reason, level: nil)
        } else {
            close(reason: reason, level: level, error: ioError.errno)
        }
    }

    /// The one close path. `level` nil: the reason was already logged.
    mutating func close(reason: String, level: LogLevel?, error: Errno? = nil) {
        if let level { log.log(level, reason, error: error) }
        client.close()
        log.set(action: nil)
        log.info("session finished: protocol=\(protocolName) reason=\(reason)")
        if let entry = ledgerEntry(outcome: outcome, reason: reason) { cacheGate?.store.shared.enqueue(entry) }
        services.sessionEnded()
    }
}

/// A login name as it may appear in a log line: printable ASCII kept,
/// anything else escaped, so a client cannot forge log lines.
func printable(_ bytes: [UInt8]) -> String {
    var out = ""
    for b in bytes.prefix(256) {
        if b >= 0x20 && b < 0x7f && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
            out.unicodeScalars.append(Unicode.Scalar(b))
        } else {
            out += "\\x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
        }
    }
    return out
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

func describe(_ reason: DisconnectReason) -> String {
    switch reason {
    case .clientQuit: return "client logged out"
    case .clientClosed: return "client closed connection"
    case .timedOut: return "client timed out"
    case .tooManyErrors: return "too many invalid commands"
    case .lineTooLong: return "client sent too long command"
    case .authServiceFailed: return "login refused or auth service failed"
    case .backendFailed: return "upstream failed"
    case .internalError(let what): return "internal error: \(what)"
    case .protocolViolation(let what): return "protocol violation: \(what)"
    }
}

func describe(_ reason: RelayCloseReason) -> String {
    switch reason {
    case .closedBy(.client): return "client-closed"
    case .closedBy(.backend): return "upstream-closed"
    case .idleTimeout: return "proxy-timeout"
    case .failed(.client, let e): return "client-error\(e)"
    case .failed(.backend, let e): return "upstream-error\(e)"
    case .stopped: return "shutdown"
    }
}

func formatSeconds(_ s: Double) -> String {
    let millis = Int((s * 1000).rounded())
    let frac = String(millis % 1000).leftPadded(to: 3)
    return "\(millis / 1000).\(frac)"
}
