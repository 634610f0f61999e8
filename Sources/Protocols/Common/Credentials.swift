/// How a client proved who it is. The raw values are what nginx sends as
/// `Auth-Method` to the auth service (LOGIN travels as "plain", as in nginx).
public enum AuthMethod: String, Sendable, CaseIterable, Equatable {
    case plain
    case login
    case apop
    case cramMD5 = "cram-md5"
    case external
    case none

    /// The `Auth-Method` header value nginx sends for this method.
    public var authHTTPName: String {
        switch self {
        case .login: return "plain"
        default: return rawValue
        }
    }
}

/// What a session learned from the client and hands to the auth service.
/// Byte arrays, not Strings: a login or password may be any bytes, and a
/// lossy UTF-8 decode would change an identity.
public struct Credentials: Sendable, Equatable {
    public var method: AuthMethod
    public var user: [UInt8]
    /// The password; for CRAM-MD5 and APOP the client's hex digest.
    public var password: [UInt8]
    /// The challenge for CRAM-MD5 / APOP, empty otherwise.
    public var salt: [UInt8]

    public init(method: AuthMethod, user: [UInt8], password: [UInt8], salt: [UInt8] = []) {
        self.method = method
        self.user = user
        self.password = password
        self.salt = salt
    }
}
