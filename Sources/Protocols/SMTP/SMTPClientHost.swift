/// The client host name nginx's SMTP module sends as Client-Host and
/// XCLIENT NAME, decided from the driver's DNS answers (the lookups
/// themselves are I/O and live in the Server layer).
///
/// nginx: reverse-resolve the client address; a name with characters
/// outside RFC 1034 §3.5 is refused; then forward-resolve that name and
/// use it only if one of its addresses is the client's (forward-confirmed
/// reverse DNS). Failures become "[UNAVAILABLE]" (NXDOMAIN, no match) or
/// "[TEMPUNAVAIL]" (other errors, a unix socket, a bad name).
public enum SMTPClientHost {
    public static let unavailable: [UInt8] = Array("[UNAVAILABLE]".utf8)
    public static let temporarilyUnavailable: [UInt8] = Array("[TEMPUNAVAIL]".utf8)

    /// How a DNS lookup ended.
    public enum LookupFailure: Error, Sendable, Equatable {
        case nxdomain
        case other
    }

    /// What the driver does after the reverse lookup.
    public enum NextStep: Sendable, Equatable {
        /// Use this value; no more lookups.
        case use([UInt8])
        /// Forward-resolve this name and call `afterForwardLookup`.
        case confirm([UInt8])
    }

    /// Letters, digits, "-" and "." only (RFC 1034 §3.5), not empty.
    public static func isValidHostName(_ name: [UInt8]) -> Bool {
        !name.isEmpty && name.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
        }
    }

    /// Without a `resolver`, nginx sends "[UNAVAILABLE]"; for a unix-socket
    /// client, "[TEMPUNAVAIL]".
    public static func withoutLookup(unixSocket: Bool) -> [UInt8] {
        unixSocket ? temporarilyUnavailable : unavailable
    }

    public static func afterReverseLookup(_ result: Result<[UInt8], LookupFailure>) -> NextStep {
        switch result {
        case .failure(.nxdomain): return .use(unavailable)
        case .failure(.other): return .use(temporarilyUnavailable)
        case .success(let name):
            guard isValidHostName(name) else { return .use(temporarilyUnavailable) }
            return .confirm(name)
        }
    }

    /// `clientAddressFound`: one of the name's addresses equals the client's.
    public static func afterForwardLookup(name: [UInt8], _ result: Result<Bool, LookupFailure>) -> [UInt8] {
        switch result {
        case .failure(.nxdomain): return unavailable
        case .failure(.other): return temporarilyUnavailable
        case .success(let clientAddressFound): return clientAddressFound ? name : unavailable
        }
    }
}
