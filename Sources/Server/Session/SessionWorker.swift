import AuthCache

/// What one session-pool thread owns for its whole life and reuses across
/// sessions: the auth_http client, whose libcurl handle keeps the connection
/// to the auth service alive between logins. Never shared between threads.
public final class SessionWorker {
    /// nil when libcurl could not make a handle; sessions then answer with a
    /// temporary failure and log `authSetupError`.
    public let auth: AuthHTTPClient?
    public let authSetupError: AuthHTTPError?

    public init() {
        do throws(AuthHTTPError) {
            auth = try AuthHTTPClient()
            authSetupError = nil
        } catch {
            auth = nil
            authSetupError = error
        }
    }
}
