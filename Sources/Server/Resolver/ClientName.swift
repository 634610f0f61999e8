import Protocols

/// The client's name as nginx's mail modules send it in Client-Host and
/// XCLIENT NAME: a forward-confirmed reverse-DNS name, or one of nginx's
/// two placeholders.
public enum ClientName: Sendable, Equatable {
    case name(String)
    /// "[UNAVAILABLE]": no name (NXDOMAIN, no data, forward lookup does not
    /// confirm it), or no resolver configured.
    case unavailable
    /// "[TEMPUNAVAIL]": the lookup failed or timed out, the name is not a
    /// valid host name, or the client came over a unix socket.
    case temporarilyUnavailable

    /// The value for Client-Host / XCLIENT NAME.
    public var text: String {
        switch self {
        case .name(let name): return name
        case .unavailable: return "[UNAVAILABLE]"
        case .temporarilyUnavailable: return "[TEMPUNAVAIL]"
        }
    }
}

/// Names from DNS are data from the network: before one reaches a header, a
/// command or a log line it must be a plain host name.
public enum HostNameValidation {
    /// RFC 1034 §3.5 letters, digits, "-" and "." (Protocols.SMTPClientHost's
    /// rule), at most 253 characters, labels of 1 to 63 characters; one
    /// trailing dot is allowed by the caller stripping it first.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count <= 253, SMTPClientHost.isValidHostName(bytes) else { return false }
        let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return labels.allSatisfy { $0.count >= 1 && $0.count <= 63 }
    }
}
