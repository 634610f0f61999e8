/// Why no usable answer came from the auth service. Every case means: give
/// the client a temporary failure and log `description` at error level.
/// The texts name the service and the cause, never a credential.
public enum AuthHTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Resolving or connecting failed (refused, unreachable, no such socket).
    case connectFailed(service: String, cause: String)
    /// No complete answer within `auth_http_timeout`.
    case timedOut(service: String, afterMillis: Int)
    /// The answer was not HTTP, was cut short, or broke nginx's header rules.
    case badResponse(service: String, cause: String)
    /// Sending or receiving failed after connecting (reset, closed early).
    case transferFailed(service: String, cause: String)

    public var description: String {
        switch self {
        case .connectFailed(let service, let cause):
            return "auth http server \(service) connect failed: \(cause)"
        case .timedOut(let service, let millis):
            return "auth http server \(service) timed out after \(millis) ms"
        case .badResponse(let service, let cause):
            return "auth http server \(service) \(cause)"
        case .transferFailed(let service, let cause):
            return "auth http server \(service) transfer failed: \(cause)"
        }
    }
}
