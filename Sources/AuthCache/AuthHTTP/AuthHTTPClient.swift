import Glibc

/// The auth_http client: one per worker thread (it owns the connection to
/// the auth service, which must stay on one thread, so it is not Sendable).
///
/// A small HTTP/1.1 client written for this one exchange, like nginx's own
/// auth_http reader (libcurl cost more instructions per login than the
/// rest of the session, and several syscalls per request). The connection is
/// kept open between requests: a deliberate difference from nginx, which
/// sends `GET <uri> HTTP/1.0` and closes after every answer; Postern sends
/// the same headers with `HTTP/1.1`, and when the service closes anyway
/// (HTTP/1.0 servers, `Connection: close`, an unframed or oversized body)
/// the next request opens a new connection. A kept-alive connection the
/// service dropped while idle is retried once on a fresh one.
public final class AuthHTTPClient {
    private var connection: AuthHTTPConnection?

    /// nginx's `auth_http_timeout` default (60s).
    public static let defaultTimeoutMillis = 60_000

    public init() {}

    /// Asks the auth service about one login. Returns within about
    /// `timeoutMillis` (connect and whole exchange together; a host name is
    /// resolved with getaddrinfo when a connection is opened, which the
    /// timeout does not bound; nginx resolves once at start-up and applies
    /// `auth_http_timeout` to sending and to receiving separately).
    /// `.success` carries the decision, already checked with
    /// `checkAuthResponse`; `.failure` and `.tempFail` both mean a temporary
    /// failure for the client and one error log line.
    public func authenticate(_ request: AuthRequest, url: AuthHTTPURL, timeoutMillis: Int) -> Result<AuthResponse, AuthHTTPError> {
        switch perform(request, url: url, timeoutMillis: timeoutMillis) {
        case .failure(let error):
            return .failure(error)
        case .success(let head):
            return .success(checkAuthResponse(parseAuthResponse(status: head.status, headers: head.headers), for: request))
        }
    }

    /// `authenticate`, following `Auth-Status: WAIT` as nginx does: the same
    /// request is sent again after `Auth-Wait` seconds (same login attempt
    /// number). nginx repeats without bound; here at most `maxWaitRounds`
    /// repeats, then a temporary failure. `sleep` is injectable for tests.
    public func authenticateFollowingWait(
        _ request: AuthRequest, url: AuthHTTPURL, timeoutMillis: Int, maxWaitRounds: Int = 3,
        sleep: (Int) -> Void = sleepSeconds
    ) -> Result<AuthResponse, AuthHTTPError> {
        var rounds = 0
        while true {
            let result = authenticate(request, url: url, timeoutMillis: timeoutMillis)
            guard case .success(.retry(let seconds)) = result else { return result }
            guard rounds < maxWaitRounds else {
                return .success(.tempFail(reason: "still sent Auth-Status: WAIT after \(rounds) repeats"))
            }
            rounds += 1
            sleep(seconds)
        }
    }

    /// One HTTP exchange: returns the parsed response head.
    public func perform(_ request: AuthRequest, url: AuthHTTPURL, timeoutMillis: Int) -> Result<AuthResponseHead, AuthHTTPError> {
        let timeout = max(1, timeoutMillis)
        let deadline = AuthDeadline.after(millis: timeout)
        let wire = authRequestBytes(request, url: url)
        if let open = connection, open.endpoint != url.endpoint { connection = nil }
        // A reused connection may have been closed by the service while idle:
        // one more try on a fresh connection, as a browser (and libcurl) does.
        for attempt in 0..<2 {
            let reused = connection != nil
            do throws(AuthHTTPConnection.Failure) {
                let open: AuthHTTPConnection
                if let kept = connection {
                    open = kept
                } else {
                    open = try AuthHTTPConnection.open(url.endpoint, deadline: deadline)
                    connection = open
                }
                try open.send(wire, deadline: deadline)
                let (head, reusable) = try readResponse(open, service: url, deadline: deadline)
                if !reusable { connection = nil }
                return head
            } catch {
                connection = nil
                switch error {
                case .closedBeforeAnswer where reused && attempt == 0:
                    continue
                case .transfer where reused && attempt == 0:
                    continue
                case .closedBeforeAnswer:
                    return .failure(.badResponse(service: url.description, cause: "sent invalid response: empty reply"))
                case .connect(let cause):
                    return .failure(.connectFailed(service: url.description, cause: cause))
                case .timedOut:
                    return .failure(.timedOut(service: url.description, afterMillis: timeout))
                case .transfer(let cause):
                    return .failure(.transferFailed(service: url.description, cause: cause))
                }
            }
        }
        return .failure(.transferFailed(service: url.description, cause: "connection closed"))
    }

    /// Reads one response: its head, and a short body (discarded) so the
    /// connection can serve the next request. The second value says whether it can.
    private func readResponse(_ connection: AuthHTTPConnection, service url: AuthHTTPURL,
                              deadline: AuthDeadline) throws(AuthHTTPConnection.Failure)
        -> (Result<AuthResponseHead, AuthHTTPError>, reusable: Bool) {
        var bytes: [UInt8] = []
        var headStart = 0
        var pollFirst = true
        while true {
            let n = try connection.receive(into: &bytes, max: 4096, pollFirst: pollFirst, deadline: deadline)
            pollFirst = true
            if n == 0 {
                if bytes.isEmpty { throw .closedBeforeAnswer }
                // Closed mid-head: the parser names what is missing.
                let partial = Array(bytes[headStart...])
                if case .failure(let e) = parseAuthResponseHead(partial) {
                    return (.failure(.badResponse(service: url.description, cause: e.description)), false)
                }
                return (.failure(.badResponse(service: url.description, cause: AuthResponseHeadError.incomplete.description)), false)
            }
            while let headEnd = endOfHead(bytes, from: headStart) {
                let head = Array(bytes[headStart..<headEnd])
                let parsed: AuthResponseHead
                switch parseAuthResponseHead(head) {
                case .success(let h): parsed = h
                case .failure(let e): return (.failure(.badResponse(service: url.description, cause: e.description)), false)
                }
                // An interim answer (100 Continue) is followed by the real one.
                if (100..<200).contains(parsed.status) {
                    headStart = headEnd
                    continue
                }
                let reusable = try skipBody(parsed, head: head, buffered: bytes.count - headEnd,
                                            connection: connection, deadline: deadline)
                return (.success(parsed), reusable)
            }
            if bytes.count - headStart > AuthHTTPLimits.maxResponseHeadBytes {
                return (.failure(.badResponse(service: url.description, cause: AuthResponseHeadError.tooLarge.description)), false)
            }
        }
    }

    /// Where the head starting at `start` ends (after its empty line), or nil
    /// while it is incomplete. A bare LF ends a line as nginx's reader allows.
    private func endOfHead(_ bytes: [UInt8], from start: Int) -> Int? {
        var lineStart = start
        var i = start
        while i < bytes.count {
            if bytes[i] == 0x0A {
                let length = i - lineStart
                if length == 0 || (length == 1 && bytes[lineStart] == 0x0D) { return i + 1 }
                lineStart = i + 1
            }
            i += 1
        }
        return nil
    }

    /// Reads and drops a body framed by Content-Length when it is small;
    /// anything else (chunked, read-until-close, too long, HTTP/1.0 without
    /// keep-alive, `Connection: close`) ends the connection instead. Returns
    /// whether the connection is clean for the next request.
    private func skipBody(_ head: AuthResponseHead, head raw: [UInt8], buffered: Int,
                          connection: AuthHTTPConnection, deadline: AuthDeadline) throws(AuthHTTPConnection.Failure) -> Bool {
        var contentLength: Int?
        var chunked = false
        var close = false
        var keepAlive = false
        for field in head.headers {
            // Names of up to 15 bytes stay small strings: lowercased() and the switch do not allocate.
            switch field.name.lowercased() {
            case "content-length":
                guard let n = parseDecimal(field.value) else { return false }
                contentLength = n
            case "transfer-encoding":
                chunked = true
            case "connection":
                if containsIgnoringCase(field.value, "close") { close = true }
                if containsIgnoringCase(field.value, "keep-alive") { keepAlive = true }
            default:
                continue
            }
        }
        let http11 = raw.starts(with: "HTTP/1.1".utf8)
        if close || (!http11 && !keepAlive) || chunked { return false }
        let bodyless = head.status == 204 || head.status == 304
        let length = bodyless ? 0 : contentLength
        guard let length, length <= AuthHTTPLimits.maxResponseBodyBytes else { return false }
        var left = length - buffered
        if left < 0 { return false }  // bytes beyond the answer: not ours to interpret
        var sink: [UInt8] = []
        while left > 0 {
            sink.removeAll(keepingCapacity: true)
            let n = try connection.receive(into: &sink, max: min(left, 4096), pollFirst: false, deadline: deadline)
            if n == 0 { return false }
            left -= n
        }
        return true
    }
}

/// Whether `value` contains the lower-case ASCII `token`, ignoring case.
private func containsIgnoringCase(_ value: [UInt8], _ token: StaticString) -> Bool {
    let pattern = UnsafeBufferPointer(start: token.utf8Start, count: token.utf8CodeUnitCount)
    guard value.count >= pattern.count else { return false }
    for start in 0...(value.count - pattern.count) {
        var match = true
        for (k, expected) in pattern.enumerated() {
            let b = value[start + k]
            if b != expected && b | 0x20 != expected { match = false; break }
        }
        if match { return true }
    }
    return false
}

/// Blocks the calling thread; nanosleep resumes after EINTR.
public func sleepSeconds(_ seconds: Int) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: seconds, tv_nsec: 0)
    var remaining = timespec()
    for _ in 0..<1000 {
        if nanosleep(&request, &remaining) == 0 || errno != EINTR { return }
        request = remaining
    }
}
