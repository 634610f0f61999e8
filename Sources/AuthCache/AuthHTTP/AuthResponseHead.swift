/// One header of the auth service's response. The value is bytes: nginx
/// copies Auth-User and Auth-Pass byte for byte.
public struct AuthHTTPHeaderField: Sendable, Equatable {
    public var name: String
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ value: String) {
        self.init(name: name, value: Array(value.utf8))
    }
}

/// The status line and headers of an auth service response.
public struct AuthResponseHead: Sendable, Equatable {
    /// The HTTP status code, 0 when there was no `HTTP/` status line. nginx
    /// ignores it; Postern keeps it for log lines only.
    public var status: Int
    public var headers: [AuthHTTPHeaderField]

    public init(status: Int, headers: [AuthHTTPHeaderField]) {
        self.status = status
        self.headers = headers
    }
}

/// Bounds on what Postern accepts from the auth service. nginx reads the
/// whole response head into one 1024-byte buffer and fails a longer one;
/// Postern allows more in total but bounds each value it keeps.
public enum AuthHTTPLimits {
    /// Status line plus headers plus the blank line.
    public static let maxResponseHeadBytes = 8192
    /// The body is never used; reading at most this much keeps the
    /// connection reusable without letting a server stream forever.
    public static let maxResponseBodyBytes = 16384
    public static let maxStatusTextBytes = 512
    public static let maxUserBytes = 1024
    public static let maxPasswordBytes = 1024
    public static let maxServerBytes = 64
    public static let maxErrorCodeBytes = 64
}

/// Splits a response head the way nginx's auth_http reader does
/// (`ngx_mail_auth_http_ignore_status_line`, `..._parse_header_line`):
///
/// - A first line starting `HTTP/` is the status line and is skipped (its
///   code is only reported); anything else is read as a header.
/// - A header name starts with a letter or digit and holds letters, digits
///   and `-`; a line that is only a name has an empty value.
/// - Spaces after the colon and at the end of the value are dropped; tabs
///   and inner spaces are part of the value. Bare LF ends a line like CRLF,
///   a CR not followed by LF is an error.
/// - An empty line ends the head; the bytes after it (the body) are ignored.
///
/// A failure says why, as the end of a log line ("auth http server X ...").
public func parseAuthResponseHead(_ bytes: [UInt8]) -> Result<AuthResponseHead, AuthResponseHeadError> {
    guard bytes.count <= AuthHTTPLimits.maxResponseHeadBytes else {
        return .failure(.tooLarge)
    }
    var index = 0
    var status = 0
    if bytes.starts(with: "HTTP/".utf8) {
        guard let end = lineEnd(bytes, from: index) else { return .failure(.incomplete) }
        status = statusCode(Array(bytes[index..<end.contentEnd]))
        index = end.next
    }
    var headers: [AuthHTTPHeaderField] = []
    headers.reserveCapacity(16)
    while true {
        guard index < bytes.count else { return .failure(.incomplete) }
        switch parseHeaderLine(bytes, from: index) {
        case .endOfHead:
            return .success(AuthResponseHead(status: status, headers: headers))
        case .header(let field, let next):
            headers.append(field)
            index = next
        case .invalid:
            return .failure(.invalidHeader)
        case .incomplete:
            return .failure(.incomplete)
        }
    }
}

/// Why a response head was refused; each reads as the end of a log line.
public enum AuthResponseHeadError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidHeader
    case incomplete
    case tooLarge

    public var description: String {
        switch self {
        case .invalidHeader: return "sent invalid header in response"
        case .incomplete: return "sent incomplete response header"
        case .tooLarge: return "sent a response header larger than \(AuthHTTPLimits.maxResponseHeadBytes) bytes"
        }
    }
}

private enum HeaderLineResult {
    case header(AuthHTTPHeaderField, next: Int)
    case endOfHead
    case invalid
    case incomplete
}

private func isAlnum(_ b: UInt8) -> Bool {
    let lower = b | 0x20
    return (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z"))
        || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
}

private let cr = UInt8(ascii: "\r")
private let lf = UInt8(ascii: "\n")
private let space = UInt8(ascii: " ")

/// Where the line starting at `from` ends: contentEnd is before CR/LF,
/// next is after the LF. nil when no LF follows, or a CR is not before LF.
private func lineEnd(_ bytes: [UInt8], from: Int) -> (contentEnd: Int, next: Int)? {
    var i = from
    while i < bytes.count {
        if bytes[i] == lf { return (i, i + 1) }
        if bytes[i] == cr {
            guard i + 1 < bytes.count, bytes[i + 1] == lf else { return nil }
            return (i, i + 2)
        }
        i += 1
    }
    return nil
}

private func parseHeaderLine(_ bytes: [UInt8], from start: Int) -> HeaderLineResult {
    let first = bytes[start]
    if first == lf { return .endOfHead }
    if first == cr {
        guard start + 1 < bytes.count else { return .incomplete }
        return bytes[start + 1] == lf ? .endOfHead : .invalid
    }
    guard isAlnum(first) else { return .invalid }
    var i = start
    while i < bytes.count, isAlnum(bytes[i]) || bytes[i] == UInt8(ascii: "-") {
        i += 1
    }
    guard i < bytes.count else { return .incomplete }
    let name = String(decoding: bytes[start..<i], as: UTF8.self)
    switch bytes[i] {
    case UInt8(ascii: ":"):
        i += 1
    case cr, lf:
        guard let end = lineEnd(bytes, from: i) else { return i + 1 < bytes.count ? .invalid : .incomplete }
        return .header(AuthHTTPHeaderField(name: name, value: []), next: end.next)
    default:
        return .invalid
    }
    while i < bytes.count, bytes[i] == space { i += 1 }
    let valueStart = i
    while i < bytes.count, bytes[i] != cr, bytes[i] != lf { i += 1 }
    guard let end = lineEnd(bytes, from: i) else { return i + 1 < bytes.count ? .invalid : .incomplete }
    var valueEnd = end.contentEnd
    while valueEnd > valueStart, bytes[valueEnd - 1] == space { valueEnd -= 1 }
    return .header(AuthHTTPHeaderField(name: name, value: Array(bytes[valueStart..<valueEnd])), next: end.next)
}

/// The three digits after `HTTP/x.y `, or 0 when they are not there.
private func statusCode(_ line: [UInt8]) -> Int {
    guard let sp = line.firstIndex(of: space) else { return 0 }
    let digits = line[(sp + 1)...].prefix(3)
    guard digits.count == 3, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return 0 }
    return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
}
