import CResolv
import Glibc

/// The record types Postern asks for (RFC 1035 §3.2.2, RFC 3596 §2.1).
public enum DNSRecordType: Int32, Sendable, Hashable {
    case a = 1
    case cname = 5
    case ptr = 12
    case aaaa = 28
}

/// The data of one answer record we use.
public enum DNSRecordData: Sendable, Hashable {
    /// A (4 bytes) or AAAA (16 bytes), network order.
    case address([UInt8])
    /// PTR target, as dn_expand spells it (no trailing dot).
    case name(String)
}

/// A parsed answer to one of our queries.
public struct DNSAnswer: Sendable, Equatable {
    /// RFC 1035 §4.1.1 RCODE: 0 no error, 3 NXDOMAIN (name error).
    public var rcode: Int
    public var truncated: Bool
    /// Records of the asked type whose owner is the question name or a CNAME
    /// alias of it, with their TTL in seconds.
    public var records: [(data: DNSRecordData, ttl: UInt32)]

    public static func == (a: DNSAnswer, b: DNSAnswer) -> Bool {
        a.rcode == b.rcode && a.truncated == b.truncated
            && a.records.map(\.data) == b.records.map(\.data) && a.records.map(\.ttl) == b.records.map(\.ttl)
    }
}

/// Why an answer was not accepted as the answer to our query.
public enum DNSMessageError: Error, Sendable, Equatable {
    /// libresolv could not parse it (lengths or compression pointers out of bounds).
    case malformed
    /// Not a response, another ID, or another question: not ours (RFC 5452 §9.1).
    case notOurs
}

/// DNS messages through glibc's libresolv: res_nmkquery builds the query,
/// ns_initparse/ns_parserr walk the answer with bounds checks, dn_expand
/// decodes names. No wire format is hand-written here.
public enum DNSMessage {
    /// A recursive query for `name`, or nil if the name does not fit a DNS
    /// message (a label over 63 bytes, a name over 255).
    public static func query(name: String, type: DNSRecordType) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let length = buffer.withUnsafeMutableBufferPointer {
            cresolv_mkquery(name, type.rawValue, $0.baseAddress, Int32($0.count))
        }
        guard length > 12 else { return nil }
        return Array(buffer.prefix(Int(length)))
    }

    /// The 16-bit ID of a message (the first two bytes, RFC 1035 §4.1.1).
    public static func id(of message: [UInt8]) -> UInt16? {
        message.count >= 2 ? UInt16(message[0]) << 8 | UInt16(message[1]) : nil
    }

    /// Parses `response` as the answer to a query with `id` for `name`/`type`.
    public static func parse(_ response: [UInt8], id: UInt16, name: String, type: DNSRecordType)
        -> Result<DNSAnswer, DNSMessageError> {
        response.withUnsafeBufferPointer { bytes -> Result<DNSAnswer, DNSMessageError> in
            guard let base = bytes.baseAddress, bytes.count >= 12, bytes.count <= 65535 else { return .failure(.malformed) }
            var msg = ns_msg()
            guard ns_initparse(base, Int32(bytes.count), &msg) == 0 else { return .failure(.malformed) }
            guard cresolv_msg_flag(&msg, cresolv_flag_qr()) == 1, UInt16(truncatingIfNeeded: cresolv_msg_id(&msg)) == id
            else { return .failure(.notOurs) }
            // RFC 1035 §4.1.2: the question is echoed; it must be ours.
            guard cresolv_msg_count(&msg, cresolv_section_question()) == 1 else { return .failure(.notOurs) }
            var rr = ns_rr()
            guard ns_parserr(&msg, ns_sect(UInt32(cresolv_section_question())), 0, &rr) == 0 else {
                return .failure(.malformed)
            }
            guard cresolv_rr_type(&rr) == type.rawValue, cresolv_rr_class(&rr) == 1,
                  sameName(String(cString: cresolv_rr_name(&rr)), name)
            else { return .failure(.notOurs) }

            var answer = DNSAnswer(rcode: Int(cresolv_msg_flag(&msg, cresolv_flag_rcode())),
                                   truncated: cresolv_msg_flag(&msg, cresolv_flag_tc()) == 1, records: [])
            var owners: [String] = [lowercased(trimmed(name))]
            let count = cresolv_msg_count(&msg, cresolv_section_answer())
            for index in 0..<max(0, count) {
                guard ns_parserr(&msg, ns_sect(UInt32(cresolv_section_answer())), index, &rr) == 0 else {
                    return .failure(.malformed)
                }
                guard cresolv_rr_class(&rr) == 1 else { continue }
                let owner = lowercased(trimmed(String(cString: cresolv_rr_name(&rr))))
                guard owners.contains(owner) else { continue }
                let rdlen = Int(cresolv_rr_rdlen(&rr))
                guard let rdata = cresolv_rr_rdata(&rr) else { return .failure(.malformed) }
                let ttl = cresolv_rr_ttl(&rr)
                switch Int32(cresolv_rr_type(&rr)) {
                case DNSRecordType.cname.rawValue:
                    // An alias: the records of its target answer the question too.
                    guard let target = expand(&msg, rdata) else { return .failure(.malformed) }
                    owners.append(lowercased(target))
                case type.rawValue where type == .a:
                    guard rdlen == 4 else { return .failure(.malformed) }
                    answer.records.append((.address(Array(UnsafeBufferPointer(start: rdata, count: 4))), ttl))
                case type.rawValue where type == .aaaa:
                    guard rdlen == 16 else { return .failure(.malformed) }
                    answer.records.append((.address(Array(UnsafeBufferPointer(start: rdata, count: 16))), ttl))
                case type.rawValue where type == .ptr:
                    guard let target = expand(&msg, rdata) else { return .failure(.malformed) }
                    answer.records.append((.name(target), ttl))
                default:
                    continue
                }
            }
            return .success(answer)
        }
    }

    /// dn_expand bounded by the message; nil for a broken or looping name.
    private static func expand(_ msg: inout ns_msg, _ at: UnsafePointer<UInt8>) -> String? {
        var out = [CChar](repeating: 0, count: 1025)
        let used = out.withUnsafeMutableBufferPointer {
            dn_expand(cresolv_msg_base(&msg), cresolv_msg_end(&msg), at, $0.baseAddress, Int32($0.count))
        }
        guard used > 0 else { return nil }
        return out.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// RFC 4343: DNS names compare case-insensitively (ASCII only).
    static func sameName(_ a: String, _ b: String) -> Bool {
        lowercased(trimmed(a)) == lowercased(trimmed(b))
    }

    private static func trimmed(_ s: String) -> String { s.hasSuffix(".") ? String(s.dropLast()) : s }

    private static func lowercased(_ s: String) -> String {
        String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    /// The reverse-lookup name of an address (RFC 1035 §3.5, RFC 3596 §2.5):
    /// `4.3.2.1.in-addr.arpa`, or 32 nibbles then `ip6.arpa`.
    public static func reverseName(_ bytes: [UInt8]) -> String? {
        switch bytes.count {
        case 4:
            return bytes.reversed().map { String($0) }.joined(separator: ".") + ".in-addr.arpa"
        case 16:
            let hex = Array("0123456789abcdef")
            var parts: [String] = []
            for byte in bytes.reversed() {
                parts.append(String(hex[Int(byte & 0x0F)]))
                parts.append(String(hex[Int(byte >> 4)]))
            }
            return parts.joined(separator: ".") + ".ip6.arpa"
        default:
            return nil
        }
    }
}
