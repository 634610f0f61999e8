import Glibc
import AuthCache
import Protocols

/// Runs one IMAP client from greeting to a relayed, logged-in backend
/// session on a session-pool thread, as nginx's mail proxy does: the pure
/// `IMAPSession` decides what to say; this type does the I/O, asks the auth
/// service, logs in to the backend and hands both sockets to the relay.
/// Every wait is bounded by `timeout` (nginx's pre-login timeout).
struct IMAPProxySession {
    let client: Socket
    let settings: ProxySettings
    let services: SessionServices
    let worker: SessionWorker
    var log: SessionLog
    let clientAddress: SocketAddress?
    let peer: ClientPeer
    var session: IMAPSession

    init(client: Socket, settings: ProxySettings, services: SessionServices, worker: SessionWorker,
         connection: UInt64, serverAddress: String, peer: ClientPeer? = nil) {
        self.client = client
        self.settings = settings
        self.services = services
        self.worker = worker
        self.peer = peer ?? .direct(client)
        self.clientAddress = self.peer.address
        log = SessionLog(log: services.log, context: LogContext(
            connection: connection, client: clientAddress?.hostText ?? "unknown", server: serverAddress,
            action: "in auth state"))
        var imap = settings.imap
        imap.salt = makeSessionSalt(serverName: settings.serverName)
        session = IMAPSession(settings: imap)
    }

    /// The whole pre-login life of the session. Returns once the client is
    /// closed or the pair belongs to the relay.
    mutating func run() {
        // nginx resolves the client's name for SMTP only; with a resolver in
        // an IMAP server block, Postern logs the name (never sends it).
        let name = settings.resolver.map { r in clientAddress.map { r.resolveClientName($0).text } ?? "" }
        log.info("client \(clientAddress?.description ?? "unknown")\(name.map { " (\($0))" } ?? "") connected to "
            + "\(log.context.server ?? "")")
        var pending = session.start()
        while true {
            switch perform(&pending) {
            case .finished:
                return
            case .proceedToBackend(let credentials, let auth):
                proxy(credentials: credentials, auth: auth)
                return
            case .readMore:
                break
            }
            let space = max(session.inputSpace, 1)
            let result: ReadResult
            do {
                result = try client.readSome(max: space, deadline: .after(millis: settings.timeoutMillis))
            } catch {
                close(reason: "client read failed", level: .info, error: error)
                return
            }
            switch result {
            case .bytes(let bytes):
                pending = session.receive(bytes)
            case .endOfStream:
                close(reason: "client closed connection", level: .info)
                return
            case .timedOut:
                close(reason: "client timed out", level: .info, error: .timedOut)
                return
            }
        }
    }

    private enum Step {
        case readMore
        case finished
        case proceedToBackend(Credentials, AuthAccepted)
    }

    /// Performs queued actions in order; an auth answer can queue more.
    private mutating func perform(_ actions: inout [SessionAction]) -> Step {
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
                // TLS is not built yet; STARTTLS is never advertised, so this is a bug.
                log.error("STARTTLS requested but TLS is not available")
                _ = send(IMAPReplies.internalServerError)
                close(reason: "internal error", level: .info)
                return .finished
            case .authenticate(let credentials):
                log.set(login: printable(credentials.user))
                let (result, accepted) = askAuthService(credentials)
                let more = session.authFinished(result)
                actions.append(contentsOf: more)
                if let accepted, session.state == .authenticated {
                    // Anything queued before the answer (nothing, as the session
                    // buffers input while authenticating) has been performed.
                    let rest = Array(actions[index...])
                    var restActions = rest
                    if case .finished = perform(&restActions) { return .finished }
                    return .proceedToBackend(credentials, accepted)
                }
            }
        }
        actions.removeAll()
        return .readMore
    }

    // MARK: - Auth service

    struct AuthAccepted {
        var server: SocketAddress
        var upstreamName: String
        var user: [UInt8]
        var password: [UInt8]
    }

    private mutating func askAuthService(_ credentials: Credentials) -> (AuthResult, AuthAccepted?) {
        log.set(action: "in http auth state")
        defer { log.set(action: "in auth state") }
        let request = AuthRequest(
            method: credentials.method.authHTTPName, user: credentials.user, password: credentials.password,
            salt: credentials.salt, protocolName: settings.mailProtocol.rawValue,
            loginAttempt: session.loginAttempt, clientIP: clientAddress?.hostText ?? "",
            clientHost: nil, proxyProtocol: peer.authProxyProtocol,
            extraHeaders: settings.authHeaders)
        guard let client = worker.auth else {
            log.error("auth http client unavailable: \(worker.authSetupError.map { "\($0)" } ?? "unknown")")
            return (.tempFail, nil)
        }
        var answer = client.authenticate(request, url: settings.authURL, timeoutMillis: settings.authTimeoutMillis)
        // "Auth-Status: WAIT" asks again after Auth-Wait; nginx repeats
        // without bound, we stop after a few rounds.
        var rounds = 0
        while case .success(.retry(let seconds)) = answer, rounds < 3 {
            rounds += 1
            sleepMillis(min(max(seconds, 0) * 1000, settings.timeoutMillis))
            answer = client.authenticate(request, url: settings.authURL, timeoutMillis: settings.authTimeoutMillis)
        }
        switch answer {
        case .failure(let error):
            log.error("auth http server \(settings.authURL) failed: \(error)")
            return (.tempFail, nil)
        case .success(.retry):
            log.error("auth http server \(settings.authURL) kept answering WAIT")
            return (.tempFail, nil)
        case .success(.tempFail(let reason)):
            log.error("auth http server \(settings.authURL): \(reason)")
            return (.tempFail, nil)
        case .success(.rejected(let message, let wait, _)):
            log.info("client login failed: \"\(message)\"")
            guard let wait, wait > 0 else { return (.rejectedFinal(message: message), nil) }
            // Auth-Wait slows guessing down; bounded by `timeout` so a hostile
            // answer cannot park a session thread for long.
            sleepMillis(min(wait * 1000, settings.timeoutMillis))
            return (.rejected(message: message), nil)
        case .success(.accepted(let server, let port, let user, let password, _)):
            guard let address = SocketAddress.ip(server, port: UInt16(clamping: port)) else {
                log.error("auth http server \(settings.authURL) sent invalid server address:\"\(server)\"")
                return (.tempFail, nil)
            }
            let backendPassword: [UInt8]
            if let password {
                backendPassword = password
            } else if credentials.method == .plain || credentials.method == .login {
                backendPassword = credentials.password
            } else {
                // A challenge-response digest is no password for the backend.
                log.error("auth http server \(settings.authURL) did not send password")
                return (.tempFail, nil)
            }
            return (.accepted, AuthAccepted(server: address, upstreamName: address.description,
                                            user: user ?? credentials.user, password: backendPassword))
        }
    }

    // MARK: - Backend

    private mutating func proxy(credentials: Credentials, auth: AuthAccepted) {
        log.set(upstream: auth.upstreamName)
        log.set(login: printable(auth.user))
        log.set(action: "connecting to upstream")
        let backend: Socket
        do {
            backend = try Socket.connect(to: auth.server, timeoutMillis: settings.timeoutMillis)
        } catch {
            log.error("connect() failed", error: error)
            _ = send(IMAPReplies.internalServerError)
            close(reason: "upstream connect failed", level: .info)
            return
        }
        try? backend.setNoDelay()
        try? client.setNoDelay()
        if let header = peer.backendHeader(version: settings.backendProxyProtocol) {
            log.set(action: "sending PROXY protocol header to upstream")
            do {
                try backend.writeAll(header, deadline: .after(millis: settings.timeoutMillis))
            } catch {
                upstreamFailed(backend, "upstream write failed", error: error)
                return
            }
        }

        var login = IMAPBackendLogin(tag: session.tag, user: auth.user, password: auth.password,
                                     passErrorMessage: settings.passErrorMessage,
                                     maxLine: max(settings.relay.bufferSize, 1024))
        log.set(action: "reading response from upstream")
        while true {
            let result: ReadResult
            do {
                result = try backend.readSome(max: 16 * 1024, deadline: .after(millis: settings.timeoutMillis))
            } catch {
                upstreamFailed(backend, "upstream read failed", error: error)
                return
            }
            switch result {
            case .timedOut:
                upstreamFailed(backend, "upstream timed out", error: .timedOut)
                return
            case .endOfStream:
                upstreamFailed(backend, "upstream prematurely closed connection", error: nil)
                return
            case .bytes(let bytes):
                for action in login.receive(bytes) {
                    switch action {
                    case .sendToBackend(let out):
                        do {
                            try backend.writeAll(out, deadline: .after(millis: settings.timeoutMillis))
                        } catch {
                            upstreamFailed(backend, "upstream write failed", error: error)
                            return
                        }
                    case .loggedIn(let clientReply, let leftover):
                        guard send(clientReply + leftover) else {
                            backend.close()
                            return
                        }
                        // Bytes the client pipelined behind its login go on to the backend.
                        let early = session.takeBufferedInput()
                        if !early.isEmpty {
                            do {
                                try backend.writeAll(early, deadline: .after(millis: settings.timeoutMillis))
                            } catch {
                                upstreamFailed(backend, "upstream write failed", error: error)
                                return
                            }
                        }
                        handToRelay(backend)
                        return
                    case .failed(let failure):
                        backendLoginFailed(backend, failure)
                        return
                    }
                }
            }
        }
    }

    private mutating func backendLoginFailed(_ backend: Socket, _ failure: UpstreamError) {
        backend.close()
        switch failure {
        case .authFailedReplied(let reply):
            log.info("upstream refused the login")
            _ = send(reply)
        case .authFailedNotReplied:
            log.error("upstream sent invalid response")
            _ = send(IMAPReplies.internalServerError)
        case .protocolViolation(let what):
            log.error("upstream sent invalid response: \(what)")
            _ = send(IMAPReplies.internalServerError)
        case .tempFail(let what):
            log.error("upstream failed: \(what)")
            _ = send(IMAPReplies.internalServerError)
        }
        close(reason: "upstream login failed", level: .info)
    }

    private mutating func upstreamFailed(_ backend: Socket, _ what: String, error: Errno?) {
        log.error(what, error: error)
        backend.close()
        _ = send(IMAPReplies.internalServerError)
        close(reason: what, level: .info)
    }

    private mutating func handToRelay(_ backend: Socket) {
        log.set(action: "proxying")
        let sessionLog = log
        let services = self.services
        let started = monotonicNanoseconds()
        services.relay.add(client: SocketEndpoint(client), backend: SocketEndpoint(backend),
                           options: settings.relay) { stats in
            let seconds = Double(monotonicNanoseconds() - started) / 1e9
            sessionLog.info("session finished: protocol=imap bytes_in=\(stats.bytesClientToBackend) "
                + "bytes_out=\(stats.bytesBackendToClient) duration=\(formatSeconds(seconds)) "
                + "reason=\(describe(stats.reason))")
            services.sessionEnded()
        }
    }

    // MARK: - Client I/O and the one close path

    private func send(_ bytes: [UInt8]) -> Bool {
        do {
            try client.writeAll(bytes, deadline: .after(millis: settings.timeoutMillis))
            return true
        } catch {
            log.info("client write failed", error: error)
            return false
        }
    }

    private mutating func close(reason: String, level: LogLevel, error: Errno? = nil) {
        log.log(level, reason, error: error)
        client.close()
        log.set(action: nil)
        log.info("session finished: protocol=imap reason=\(reason)")
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
