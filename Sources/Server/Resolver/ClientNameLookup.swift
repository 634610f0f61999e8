import Protocols

extension DNSResolver {
    /// The client's name as nginx's SMTP module finds it: a PTR lookup of
    /// the address, then an A or AAAA lookup of that name that must list the
    /// address again (forward-confirmed reverse DNS). The whole lookup is
    /// bounded by `resolver_timeout`; a failure yields a placeholder, never
    /// an error, and a name is returned only once it passed validation.
    public func resolveClientName(_ address: SocketAddress) -> ClientName {
        let deadline = Deadline.after(millis: timeoutMillis)
        let bytes: [UInt8]
        let forwardType: DNSRecordType
        switch address {
        case .unix:
            return .temporarilyUnavailable
        case .ipv4(let b, _):
            bytes = b
            forwardType = .a
        case .ipv6(let b, _, _):
            // An IPv4-mapped client (::ffff:a.b.c.d) is an IPv4 client.
            if b.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
                bytes = Array(b.suffix(4))
                forwardType = .a
            } else {
                bytes = b
                forwardType = .aaaa
            }
        }
        guard let reverse = DNSMessage.reverseName(bytes) else { return .temporarilyUnavailable }

        let name: [UInt8]
        switch SMTPClientHost.afterReverseLookup(ptrName(reverse, deadline: deadline)) {
        case .use(let placeholder): return Self.clientName(placeholder)
        case .confirm(let candidate): name = candidate
        }
        let text = String(decoding: name, as: UTF8.self)
        guard HostNameValidation.isValid(text) else { return .temporarilyUnavailable }
        guard forwardType == .a ? ipv4 : ipv6 else { return .unavailable }

        let confirmed: Result<Bool, SMTPClientHost.LookupFailure>
        switch lookup(text, type: forwardType, deadline: deadline) {
        case .success(.noSuchData): confirmed = .failure(.nxdomain)
        case .success(.records(let records)): confirmed = .success(records.contains(.address(bytes)))
        case .failure: confirmed = .failure(.other)
        }
        return Self.clientName(SMTPClientHost.afterForwardLookup(name: name, confirmed))
    }

    /// The first PTR target, without its trailing dot.
    private func ptrName(_ reverse: String, deadline: Deadline) -> Result<[UInt8], SMTPClientHost.LookupFailure> {
        switch lookup(reverse, type: .ptr, deadline: deadline) {
        case .success(.noSuchData): return .failure(.nxdomain)
        case .success(.records(let records)):
            for case .name(let target) in records {
                let trimmed = target.hasSuffix(".") ? String(target.dropLast()) : target
                return .success(Array(trimmed.utf8))
            }
            return .failure(.nxdomain)
        case .failure: return .failure(.other)
        }
    }

    private static func clientName(_ value: [UInt8]) -> ClientName {
        if value == SMTPClientHost.unavailable { return .unavailable }
        if value == SMTPClientHost.temporarilyUnavailable { return .temporarilyUnavailable }
        let text = String(decoding: value, as: UTF8.self)
        return HostNameValidation.isValid(text) ? .name(text) : .temporarilyUnavailable
    }
}
