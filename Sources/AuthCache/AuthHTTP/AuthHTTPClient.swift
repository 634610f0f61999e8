import CCurl
import Glibc

/// The auth_http client: one per worker thread (it owns a libcurl easy
/// handle, which must stay on one thread, so it is not Sendable).
///
/// The handle is reused, so libcurl keeps the connection to the auth service
/// open between requests. That is a deliberate difference from nginx: nginx
/// sends `GET <uri> HTTP/1.0` and closes after every answer; Postern sends
/// the same headers with `HTTP/1.1`, and when the service closes anyway
/// (HTTP/1.0 servers, `Connection: close`) libcurl simply reconnects.
///
/// Call `AuthHTTPClient.globalInit()` once before starting threads.
public final class AuthHTTPClient {
    private let handle: UnsafeMutableRawPointer
    /// libcurl writes its error text here (CURLOPT_ERRORBUFFER).
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// nginx's `auth_http_timeout` default (60s).
    public static let defaultTimeoutMillis = 60_000

    private static let globalInitResult: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    /// Initialises libcurl for the process. Call once from the main thread
    /// before any worker starts (curl_global_init is not thread-safe in
    /// older libcurl); later calls return the first result.
    @discardableResult
    public static func globalInit() -> Bool {
        globalInitResult == CURLE_OK
    }

    public init() throws(AuthHTTPError) {
        guard Self.globalInit() else {
            throw .clientSetupFailed(cause: "curl_global_init failed")
        }
        guard let h = curl_easy_init() else {
            throw .clientSetupFailed(cause: "curl_easy_init failed")
        }
        handle = h
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Asks the auth service about one login. Returns within about
    /// `timeoutMillis` (name lookup, connect and whole exchange together:
    /// libcurl's threaded resolver honours the timeout; nginx applies
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
        let service = url.description
        let timeout = max(1, timeoutMillis)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for field in authRequestHeaderFields(request, host: url.hostHeader) {
            guard let appended = appendHeader(headerList, curlHeaderLine(field)) else {
                return .failure(.clientSetupFailed(cause: "curl_slist_append failed"))
            }
            headerList = appended
        }
        // An empty "Accept:" removes libcurl's default header; nginx sends none.
        guard let withAccept = appendHeader(headerList, Array("Accept:".utf8)) else {
            return .failure(.clientSetupFailed(cause: "curl_slist_append failed"))
        }
        headerList = withAccept

        let state = TransferState()
        let statePointer = Unmanaged.passUnretained(state).toOpaque()
        errorBuffer[0] = 0

        var setupFailed = false
        func check(_ code: CURLcode) { if code != CURLE_OK { setupFailed = true } }
        check(ccurl_setopt_str(handle, CURLOPT_URL, url.curlURL))
        switch url.endpoint {
        case .unix(let path): check(ccurl_setopt_str(handle, CURLOPT_UNIX_SOCKET_PATH, path))
        case .inet: check(ccurl_setopt_str(handle, CURLOPT_UNIX_SOCKET_PATH, nil))
        }
        // Never let http_proxy / no_proxy from the environment reroute auth.
        check(ccurl_setopt_str(handle, CURLOPT_PROXY, ""))
        check(ccurl_setopt_str(handle, CURLOPT_PROTOCOLS_STR, "http"))
        check(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        check(ccurl_setopt_long(handle, CURLOPT_HTTPGET, 1))
        check(ccurl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1)))
        check(ccurl_setopt_long(handle, CURLOPT_PATH_AS_IS, 1))
        check(ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        check(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeout))
        check(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, timeout))
        check(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))
        check(ccurl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer)))
        check(ccurl_setopt_writefn(handle, CURLOPT_HEADERFUNCTION, authHTTPHeaderCallback))
        check(ccurl_setopt_ptr(handle, CURLOPT_HEADERDATA, statePointer))
        check(ccurl_setopt_writefn(handle, CURLOPT_WRITEFUNCTION, authHTTPBodyCallback))
        check(ccurl_setopt_ptr(handle, CURLOPT_WRITEDATA, statePointer))
        if setupFailed {
            return .failure(.clientSetupFailed(cause: "curl_easy_setopt failed"))
        }

        let code = withExtendedLifetime(state) { curl_easy_perform(handle) }
        // The slist and state die after this call: unhook them from the handle.
        _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, nil)
        _ = ccurl_setopt_ptr(handle, CURLOPT_HEADERDATA, nil)
        _ = ccurl_setopt_ptr(handle, CURLOPT_WRITEDATA, nil)

        if state.headTooLarge {
            return .failure(.badResponse(service: service, cause: AuthResponseHeadError.tooLarge.description))
        }
        // A body over the limit aborts the transfer once the head is complete;
        // the head still counts (the connection is dropped, not reused).
        if code != CURLE_OK && !(code == CURLE_WRITE_ERROR && state.bodyTooLarge) {
            return .failure(classify(code, service: service, timeout: timeout))
        }
        switch parseAuthResponseHead(state.head) {
        case .success(let head): return .success(head)
        case .failure(let error): return .failure(.badResponse(service: service, cause: error.description))
        }
    }

    private func appendHeader(_ list: UnsafeMutablePointer<curl_slist>?, _ line: [UInt8]) -> UnsafeMutablePointer<curl_slist>? {
        // Escaping left no NUL in the line, so the C string is the whole line.
        let cString = line.map { CChar(bitPattern: $0) } + [0]
        return cString.withUnsafeBufferPointer { curl_slist_append(list, $0.baseAddress) }
    }

    private func classify(_ code: CURLcode, service: String, timeout: Int) -> AuthHTTPError {
        let detail = String(cString: errorBuffer)
        let cause = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut(service: service, afterMillis: timeout)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .connectFailed(service: service, cause: cause)
        case CURLE_WEIRD_SERVER_REPLY, CURLE_UNSUPPORTED_PROTOCOL, CURLE_GOT_NOTHING,
             CURLE_HTTP_RETURNED_ERROR, CURLE_BAD_CONTENT_ENCODING:
            return .badResponse(service: service, cause: "sent invalid response: \(cause)")
        default:
            return .transferFailed(service: service, cause: cause)
        }
    }
}

/// libcurl drops a custom header whose value is blank ("Name: " means
/// "remove Name"), but nginx sends empty Auth-User, Auth-Pass and
/// Auth-SMTP-* values. libcurl's spelling for "send Name with an empty
/// value" is "Name;".
func curlHeaderLine(_ line: [UInt8]) -> [UInt8] {
    guard let colon = line.firstIndex(of: UInt8(ascii: ":")),
          line[(colon + 1)...].allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) else {
        return line
    }
    return Array(line[..<colon]) + [UInt8(ascii: ";")]
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

/// What the callbacks collect during one transfer.
private final class TransferState {
    var head: [UInt8] = []
    var headTooLarge = false
    var bodyBytes = 0
    var bodyTooLarge = false
}

/// CURLOPT_HEADERFUNCTION: libcurl hands over the status line and each
/// header line; a new status line (after a 1xx answer) starts afresh.
private let authHTTPHeaderCallback: ccurl_write_fn = { data, size, count, context in
    guard let data, let context else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    let bytes = UnsafeRawBufferPointer(start: data, count: length)
    if bytes.starts(with: "HTTP/".utf8) {
        state.head.removeAll(keepingCapacity: true)
    }
    guard state.head.count + length <= AuthHTTPLimits.maxResponseHeadBytes else {
        state.headTooLarge = true
        return 0
    }
    state.head.append(contentsOf: bytes)
    return length
}

/// CURLOPT_WRITEFUNCTION: the body is not used; read a bounded amount so a
/// short body leaves the connection reusable.
private let authHTTPBodyCallback: ccurl_write_fn = { _, size, count, context in
    guard let context else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    state.bodyBytes += length
    if state.bodyBytes > AuthHTTPLimits.maxResponseBodyBytes {
        state.bodyTooLarge = true
        return 0
    }
    return length
}
