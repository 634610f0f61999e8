/// What the auth service decided, as nginx interprets its response headers
/// (`ngx_mail_auth_http_process_headers`).
public enum AuthResponse: Sendable, Equatable {
    /// `Auth-Status: OK`: proxy to `server:port` (an IP address, never a
    /// name), logging in as `user`/`password` when given, else with the
    /// client's own. `cacheTTL` is Postern's `Auth-Cache-TTL` (seconds).
    case accepted(server: String, port: Int, user: [UInt8]?, password: [UInt8]?, cacheTTL: Int?)
    /// Any other `Auth-Status` text: send it to the client (`-ERR text`,
    /// `tag NO text`, or for SMTP `errorCode text`, with
    /// `AuthResponse.defaultSMTPErrorCode` when `errorCode` is nil).
    /// `wait` nil: close the connection after that reply (nginx does so when
    /// Auth-Wait is missing, invalid or 0). `wait` n: wait n seconds, then
    /// reply and let the client try again (the next try has
    /// `loginAttempt + 1`).
    case rejected(message: String, wait: Int?, errorCode: String?)
    /// `Auth-Status: WAIT`: send the same request again after `seconds`
    /// (`Auth-Wait`, 0 when missing). nginx repeats without bound; the
    /// caller must cap the rounds.
    case retry(afterSeconds: Int)
    /// The response cannot be used: the client gets a temporary failure and
    /// `reason` goes to the error log after "auth http server URL ".
    case tempFail(reason: String)

    /// nginx's SMTP reply code when the service sends no `Auth-Error-Code`.
    public static let defaultSMTPErrorCode = "535 5.7.0"
}

extension AuthResponse: CustomStringConvertible {
    /// For logs: never shows a password.
    public var description: String {
        switch self {
        case .accepted(let server, let port, let user, let password, let ttl):
            let userText = user.map { "\"\(String(decoding: $0, as: UTF8.self))\"" } ?? "(client's)"
            let passwordText = password == nil ? "(client's)" : "(from auth service)"
            let ttlText = ttl.map { " cache-ttl=\($0)s" } ?? ""
            return "accepted: upstream=\(server):\(port) user=\(userText) password=\(passwordText)\(ttlText)"
        case .rejected(let message, let wait, let code):
            return "rejected: \"\(message)\"" + (code.map { " code=\($0)" } ?? "")
                + (wait.map { " wait=\($0)s" } ?? "")
        case .retry(let seconds):
            return "retry after \(seconds)s"
        case .tempFail(let reason):
            return "temporary failure: \(reason)"
        }
    }
}

/// The error log line for `.tempFail(reason)`, worded as nginx words it:
/// `auth http server 127.0.0.1:9000 did not send server or port`.
public func authHTTPLogLine(service: AuthHTTPURL, reason: String) -> String {
    "auth http server \(service) \(reason)"
}

/// Interprets the response headers as nginx does, with Postern's limits.
///
/// - Header names match case-insensitively; `Auth-Status` values `OK` and
///   `WAIT` are case-sensitive, as in nginx. Any other status text rejects,
///   and a rejection wins over `OK`/`WAIT` seen in other headers.
/// - `Auth-Wait`, `Auth-Port` and `Auth-Cache-TTL` are plain decimal digits
///   (`ngx_atoi`); an invalid Auth-Wait is ignored, as in nginx.
/// - `Auth-Server` must be an IPv4 or IPv6 address literal (nginx
///   `ngx_parse_addr`: no host names, no brackets), `Auth-Port` 1...65535.
/// - Auth-User and Auth-Pass are taken byte for byte: nginx 1.22 does not
///   unescape them.
/// - Unlike nginx, a response without any `Auth-Status` is a temporary
///   failure, never an acceptance (nginx would proxy when Auth-Server and
///   Auth-Port are present).
///
/// The HTTP status code is ignored for the decision, as nginx ignores it:
/// services answer rejections with 200 as well as 4xx.
public func parseAuthResponse(status: Int, headers: [AuthHTTPHeaderField]) -> AuthResponse {
    var sawOK = false
    var sawWait = false
    var errorText: [UInt8]?
    var server: [UInt8]?
    var port: [UInt8]?
    var user: [UInt8]?
    var password: [UInt8]?
    var waitSeconds: Int?
    var errorCode: [UInt8]?
    var cacheTTL: Int?

    for header in headers {
        // Header names are short: lowercased() and the switch stay small strings, no allocation.
        switch header.name.lowercased() {
        case "auth-status":
            if header.value.elementsEqual("OK".utf8) {
                sawOK = true
            } else if header.value.elementsEqual("WAIT".utf8) {
                sawWait = true
            } else {
                errorText = header.value
            }
        case "auth-server": server = header.value
        case "auth-port": port = header.value
        case "auth-user": user = header.value
        case "auth-pass": password = header.value
        case "auth-wait":
            if let n = parseDecimal(header.value) { waitSeconds = n }
        case "auth-error-code": errorCode = header.value
        case "auth-cache-ttl":
            if let n = parseDecimal(header.value) { cacheTTL = n }
        default:
            continue
        }
    }

    if let errorText {
        guard errorText.count <= AuthHTTPLimits.maxStatusTextBytes else {
            return .tempFail(reason: "sent Auth-Status longer than \(AuthHTTPLimits.maxStatusTextBytes) bytes")
        }
        if let errorCode, errorCode.count > AuthHTTPLimits.maxErrorCodeBytes {
            return .tempFail(reason: "sent Auth-Error-Code longer than \(AuthHTTPLimits.maxErrorCodeBytes) bytes")
        }
        let wait = (waitSeconds ?? 0) > 0 ? waitSeconds : nil
        return .rejected(
            message: String(decoding: errorText, as: UTF8.self),
            wait: wait,
            errorCode: errorCode.flatMap { $0.isEmpty ? nil : String(decoding: $0, as: UTF8.self) })
    }
    if sawWait {
        return .retry(afterSeconds: waitSeconds ?? 0)
    }
    guard sawOK else {
        return .tempFail(reason: "sent no Auth-Status")
    }
    guard let server, !server.isEmpty, let port, !port.isEmpty else {
        return .tempFail(reason: "did not send server or port")
    }
    guard server.count <= AuthHTTPLimits.maxServerBytes, isIPAddressLiteral(server) else {
        return .tempFail(reason: "sent invalid server address:\"\(printable(server, limit: AuthHTTPLimits.maxServerBytes))\"")
    }
    guard let portNumber = parseDecimal(port), (1...65535).contains(portNumber) else {
        return .tempFail(reason: "sent invalid server port:\"\(printable(port, limit: 16))\"")
    }
    if let user, user.count > AuthHTTPLimits.maxUserBytes {
        return .tempFail(reason: "sent Auth-User longer than \(AuthHTTPLimits.maxUserBytes) bytes")
    }
    if let password, password.count > AuthHTTPLimits.maxPasswordBytes {
        return .tempFail(reason: "sent Auth-Pass longer than \(AuthHTTPLimits.maxPasswordBytes) bytes")
    }
    return .accepted(
        server: String(decoding: server, as: UTF8.self), port: portNumber,
        user: user, password: password, cacheTTL: cacheTTL)
}

/// Convenience for tests and callers holding String pairs.
public func parseAuthResponse(status: Int, headers: [(String, String)]) -> AuthResponse {
    parseAuthResponse(status: status, headers: headers.map { AuthHTTPHeaderField($0.0, $0.1) })
}

/// nginx's last check before proxying: for IMAP and POP3 it needs a password
/// for the backend login. With "plain" the client's own is used; APOP,
/// CRAM-MD5 and EXTERNAL carry none, so the service must send `Auth-Pass`
/// ("auth http server ... did not send password"). SMTP needs none (XCLIENT).
public func checkAuthResponse(_ response: AuthResponse, for request: AuthRequest) -> AuthResponse {
    guard case .accepted(_, _, _, let password, _) = response else { return response }
    let clientHasPassword = request.method == "plain"
    if password == nil && !clientHasPassword && request.protocolName != "smtp" {
        return .tempFail(reason: "did not send password")
    }
    return response
}

/// `ngx_atoi`: one or more ASCII digits, nothing else, no overflow.
func parseDecimal(_ bytes: [UInt8]) -> Int? {
    guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
    var n = 0
    for b in bytes {
        guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
        n = n * 10 + Int(b - UInt8(ascii: "0"))
    }
    return n
}

/// A value quoted in a log line: control bytes escaped, length capped.
private func printable(_ bytes: [UInt8], limit: Int) -> String {
    String(decoding: AuthHeaderEscaping.escapeControls(Array(bytes.prefix(limit))), as: UTF8.self)
}
