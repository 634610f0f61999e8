import Glibc

/// Why no usable PROXY protocol header arrived; each closes the connection.
public enum ProxyProtocolReadError: Error, Sendable, Equatable, CustomStringConvertible {
    case timedOut
    case closed
    case invalid(String)
    case failed(Errno)

    public var description: String {
        switch self {
        case .timedOut: return "client timed out while reading PROXY protocol header"
        case .closed: return "client closed connection while reading PROXY protocol header"
        case .invalid(let what): return "invalid PROXY protocol header: \(what)"
        case .failed(let e): return "recv() failed \(e)"
        }
    }
}

/// Reads exactly the PROXY protocol header off a freshly accepted socket, as
/// nginx does for `listen ... proxy_protocol`: peek, parse, then consume only
/// the header's bytes, so whatever the client pipelined stays in the socket
/// for the session. Bounded by `deadline` (nginx uses `timeout`).
public enum ProxyProtocolReader {
    public static func read(from socket: Socket, deadline: Deadline) -> Result<ProxyProtocolHeader, ProxyProtocolReadError> {
        var have: [UInt8] = []
        // Each pass consumes at least one byte or waits: bounded by the header limit.
        for _ in 0...ProxyProtocolParser.maxHeaderLength {
            var peeked = [UInt8](repeating: 0, count: ProxyProtocolParser.maxHeaderLength - have.count)
            let fd = socket.fd
            let n: Int
            do {
                n = try peeked.withUnsafeMutableBytes { b in
                    Result { () throws(Errno) -> Int in try sysRecv(fd, into: b, flags: Int32(MSG_PEEK)) }
                }.get()
            } catch let e where e == .wouldBlock {
                do {
                    guard try socket.waitFor(events: Int16(POLLIN), deadline: deadline) else { return .failure(.timedOut) }
                } catch {
                    return .failure(.failed(error))
                }
                continue
            } catch {
                return .failure(.failed(error))
            }
            if n == 0 { return .failure(.closed) }
            peeked.removeSubrange(n...)
            let take: Int
            var result: ProxyProtocolHeader? = nil
            switch ProxyProtocolParser.parse(have + peeked) {
            case .invalid(let what):
                return .failure(.invalid(what))
            case .needMoreBytes:
                if have.count + n >= ProxyProtocolParser.maxHeaderLength { return .failure(.invalid("header too long")) }
                take = n
            case .header(let header, let consumed):
                take = consumed - have.count
                result = header
            }
            // Consume what was peeked and belongs to the header.
            var sink = [UInt8](repeating: 0, count: take)
            let got: Int
            do {
                got = try sink.withUnsafeMutableBytes { b in Result { () throws(Errno) -> Int in try sysRead(fd, into: b) } }.get()
            } catch {
                return .failure(.failed(error))
            }
            guard got == take else { return .failure(.failed(.wouldBlock)) }
            if let result { return .success(result) }
            have += sink
            if deadline.hasPassed { return .failure(.timedOut) }
        }
        return .failure(.invalid("header too long"))
    }
}
