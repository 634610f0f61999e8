import AuthCache
import COpenSSL
import Glibc
import Protocols

/// One line of `postern -t -P`: what was checked and how it went.
public struct ProbeCheck: Sendable, Equatable {
    public var subject: String
    public var ok: Bool
    public var detail: String

    public init(subject: String, ok: Bool, detail: String) {
        self.subject = subject
        self.ok = ok
        self.detail = detail
    }

    /// `postern: [probe] ok   auth_http 127.0.0.1:9000/auth (imap): answered "Invalid login"`
    public var line: String { "postern: [probe] \(ok ? "ok    " : "FAILED") \(subject): \(detail)" }
}

/// `-t -P`: beyond the syntax, ask the world the configuration depends on.
/// The auth service gets a canary login (any answer counts: it is up and
/// speaks auth_http), a backend it names must greet in its protocol, and
/// every certificate file must parse and be within its validity period.
/// Nothing here binds a listener, so it runs next to a live Postern.
public enum ConfigProbe {
    /// The canary's name, so the auth service's operators can recognise and
    /// ignore it; its password is not a secret.
    public static let canaryUser = "postern-probe-canary"
    static let canaryPassword = "postern-probe"

    public static func run(_ config: PosternConfig, timeoutMillis: Int = 5_000) -> [ProbeCheck] {
        var checks: [ProbeCheck] = []
        var seenAuth: Set<String> = []
        var seenBackends: Set<String> = []
        var seenCertificates: Set<String> = []
        let client = AuthHTTPClient()
        let served = Set(config.listeners.map(\.serverIndex))
        for index in config.servers.indices where served.contains(index) {
            let server = config.servers[index]
            let urlText = ConfigPlanner.authURLText(server.authHTTP)
            let key = "\(urlText) \(server.protocolName.rawValue)"
            if !seenAuth.contains(key) {
                seenAuth.insert(key)
                let (check, backend) = probeAuth(urlText, protocolName: server.protocolName, client: client,
                                                 headers: server.authHTTPHeaders,
                                                 timeoutMillis: min(timeoutMillis, ConfigPlanner.millis(server.authHTTPTimeout)))
                checks.append(check)
                if let backend, !seenBackends.contains("\(backend) \(server.protocolName)") {
                    seenBackends.insert("\(backend) \(server.protocolName)")
                    checks.append(probeGreeting(backend, protocolName: server.protocolName, timeoutMillis: timeoutMillis))
                }
            }
            for path in server.ssl.certificates where !seenCertificates.contains(path) && !path.hasPrefix("data:") {
                seenCertificates.insert(path)
                checks.append(checkCertificate(path))
            }
        }
        if checks.isEmpty {
            checks.append(ProbeCheck(subject: "configuration", ok: true, detail: "no listener, nothing to probe"))
        }
        return checks
    }

    /// The canary login against one auth_http URL.
    static func probeAuth(_ urlText: String, protocolName: MailProtocol, client: AuthHTTPClient,
                          headers: [(name: String, value: String)], timeoutMillis: Int)
        -> (ProbeCheck, backend: SocketAddress?) {
        let subject = "auth_http \(urlText) (\(protocolName.rawValue))"
        let url: AuthCache.AuthHTTPURL
        switch AuthCache.AuthHTTPURL.parse(urlText) {
        case .success(let parsed): url = parsed
        case .failure(let error): return (ProbeCheck(subject: subject, ok: false, detail: "\(error)"), nil)
        }
        let request = AuthRequest(method: "plain", user: Array(canaryUser.utf8), password: Array(canaryPassword.utf8),
                                  protocolName: protocolName.rawValue, clientIP: "127.0.0.1",
                                  extraHeaders: headers.map { AuthHTTPExtraHeader(name: $0.name, value: $0.value) })
        let started = Deadline.now
        let result = client.authenticate(request, url: url, timeoutMillis: timeoutMillis)
        let millis = (Deadline.now.nanoseconds - started.nanoseconds) / 1_000_000
        switch result {
        case .failure(let error):
            return (ProbeCheck(subject: subject, ok: false, detail: "no answer: \(error)"), nil)
        case .success(let response):
            let answer: String
            var backend: SocketAddress? = nil
            switch response {
            case .accepted(let server, let port, _, _, _):
                answer = "accepted the canary, backend \(server):\(port)"
                backend = SocketAddress.ip(server, port: UInt16(clamping: port))
            case .rejected(let message, _, _): answer = "answered \"\(message)\""
            case .retry: answer = "answered WAIT"
            case .tempFail(let reason):
                return (ProbeCheck(subject: subject, ok: false, detail: "unusable answer: \(reason)"), nil)
            }
            return (ProbeCheck(subject: subject, ok: true, detail: "\(answer) in \(millis) ms"), backend)
        }
    }

    /// A backend must greet: `* OK` (IMAP), `+OK` (POP3), `220` (SMTP).
    static func probeGreeting(_ address: SocketAddress, protocolName: MailProtocol, timeoutMillis: Int) -> ProbeCheck {
        let subject = "backend \(address) (\(protocolName.rawValue))"
        let expected: String
        switch protocolName {
        case .imap: expected = "* OK"
        case .pop3: expected = "+OK"
        case .smtp: expected = "220"
        }
        let socket: Socket
        do throws(Errno) {
            socket = try Socket.connect(to: address, timeoutMillis: timeoutMillis)
        } catch {
            return ProbeCheck(subject: subject, ok: false, detail: "connect() failed \(error)")
        }
        defer { socket.close() }
        let deadline = Deadline.after(millis: timeoutMillis)
        var received: [UInt8] = []
        while !received.contains(0x0A) && received.count < 4096 {
            let result: ReadResult
            do throws(Errno) {
                result = try socket.readSome(max: 4096, deadline: deadline)
            } catch {
                return ProbeCheck(subject: subject, ok: false, detail: "read failed \(error)")
            }
            switch result {
            case .bytes(let bytes): received += bytes
            case .endOfStream: return ProbeCheck(subject: subject, ok: false, detail: "closed before greeting")
            case .timedOut: return ProbeCheck(subject: subject, ok: false, detail: "no greeting in \(timeoutMillis) ms")
            }
        }
        let line = String(decoding: received.prefix { $0 != 0x0D && $0 != 0x0A }.prefix(120), as: UTF8.self)
        return ProbeCheck(subject: subject, ok: line.hasPrefix(expected), detail: "greeting \"\(line)\"")
    }

    /// The certificate file parses as PEM and now lies within notBefore...notAfter.
    public static func checkCertificate(_ path: String) -> ProbeCheck {
        let subject = "ssl_certificate \(path)"
        guard let file = fopen(path, "r") else {
            return ProbeCheck(subject: subject, ok: false, detail: "fopen() failed \(Errno(errno))")
        }
        defer { fclose(file) }
        guard let certificate = PEM_read_X509(file, nil, nil, nil) else {
            return ProbeCheck(subject: subject, ok: false, detail: "not a PEM certificate")
        }
        defer { X509_free(certificate) }
        // X509_cmp_current_time: -1 when the time is before now, 1 after, 0 on error.
        if X509_cmp_current_time(X509_get0_notBefore(certificate)) >= 0 {
            return ProbeCheck(subject: subject, ok: false, detail: "not valid yet")
        }
        let notAfter = X509_get0_notAfter(certificate)
        if X509_cmp_current_time(notAfter) <= 0 {
            return ProbeCheck(subject: subject, ok: false, detail: "expired")
        }
        var days: Int32 = 0
        var seconds: Int32 = 0
        _ = ASN1_TIME_diff(&days, &seconds, nil, notAfter)
        return ProbeCheck(subject: subject, ok: true, detail: "valid, expires in \(days) days")
    }
}

extension PosternMain {
    /// Prints the probe report; 0 when every check passed.
    static func probe(_ config: PosternConfig, quiet: Bool) -> Int32 {
        let checks = ConfigProbe.run(config)
        for check in checks where !quiet || !check.ok { printError(check.line) }
        let failed = checks.filter { !$0.ok }.count
        if !quiet || failed > 0 {
            printError(failed == 0 ? "postern: probe successful (\(checks.count) checks)"
                                   : "postern: probe failed (\(failed) of \(checks.count) checks)")
        }
        return failed == 0 ? 0 : 1
    }
}
