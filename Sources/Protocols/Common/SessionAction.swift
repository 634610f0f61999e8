/// Why a session ended; one value per close path, logged as `reason=`.
public enum DisconnectReason: Sendable, Equatable {
    case clientQuit
    case clientClosed
    case timedOut
    case tooManyErrors
    case lineTooLong
    case authServiceFailed
    case backendFailed
    case internalError(String)
    case protocolViolation(String)
}

/// What a pre-auth session asks its driver to do. Sessions are values: the
/// driver feeds bytes in and performs these actions in order.
public enum SessionAction: Sendable, Equatable {
    /// Write these bytes to the client.
    case send([UInt8])
    /// Ask the auth service; report the answer back to the session.
    case authenticate(Credentials)
    /// Begin a TLS handshake on the client connection (STARTTLS / STLS).
    case startTLS
    /// Close the client connection after flushing what was sent.
    case close(DisconnectReason)
}

/// How a backend login failed, and whether the client has been answered.
/// Dovecot's login-proxy distinguishes these so the driver never answers twice.
public enum UpstreamError: Error, Sendable, Equatable {
    /// The backend refused the login and the reply for the client is attached.
    case authFailedReplied([UInt8])
    /// The backend refused the login; the client still needs a reply.
    case authFailedNotReplied
    /// Down, timed out, or closed: the client gets a temporary failure.
    case tempFail(String)
    /// The backend said something that is not the protocol.
    case protocolViolation(String)
}
