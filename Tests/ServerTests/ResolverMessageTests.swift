import Synchronization
import Testing
@testable import Server

/// Builds a response to `query` (test fixture): QR set, RCODE, and answer
/// records whose owner is a compression pointer to the question (0xC00C).
func dnsResponse(to query: [UInt8], rcode: UInt8 = 0, truncated: Bool = false,
                 answers: [(type: UInt16, ttl: UInt32, rdata: [UInt8])] = [], ownerPointer: [UInt8] = [0xC0, 0x0C],
                 id: UInt16? = nil) -> [UInt8] {
    var r = query
    if let id { r[0] = UInt8(id >> 8); r[1] = UInt8(id & 0xFF) }
    r[2] = 0x81 | (truncated ? 0x02 : 0)
    r[3] = 0x80 | rcode
    r[6] = UInt8(answers.count >> 8); r[7] = UInt8(answers.count & 0xFF)
    for a in answers {
        r += ownerPointer
        r += [UInt8(a.type >> 8), UInt8(a.type & 0xFF), 0, 1]
        r += [UInt8(a.ttl >> 24), UInt8((a.ttl >> 16) & 0xFF), UInt8((a.ttl >> 8) & 0xFF), UInt8(a.ttl & 0xFF)]
        r += [UInt8(a.rdata.count >> 8), UInt8(a.rdata.count & 0xFF)] + a.rdata
    }
    return r
}

/// A name in wire form (RFC 1035 §3.1), for PTR rdata fixtures.
func wireName(_ name: String) -> [UInt8] {
    var out: [UInt8] = []
    for label in name.split(separator: ".") { out.append(UInt8(label.utf8.count)); out += Array(label.utf8) }
    return out + [0]
}

@Suite struct ResolverMessageTests {
    /// The query libresolv builds asks one recursive IN question of the given type.
    @Test func queryShape() throws {
        let q = try #require(DNSMessage.query(name: "mail.example.org", type: .a))
        #expect(q[2] & 0x01 == 0x01)  // RD
        #expect(Array(q[4..<6]) == [0, 1])  // QDCOUNT
        #expect(Array(q[12...]) == wireName("mail.example.org") + [0, 1, 0, 1])
    }

    /// Names that do not fit a DNS message are refused before any I/O.
    @Test func queryRefusesOverlongNames() {
        #expect(DNSMessage.query(name: String(repeating: "a", count: 64) + ".example", type: .a) == nil)
        #expect(DNSMessage.query(name: Array(repeating: "abcdefghi", count: 30).joined(separator: "."), type: .a) == nil)
    }

    /// Reverse names: IPv4 octets reversed, IPv6 nibbles reversed (RFC 3596 §2.5).
    @Test func reverseNames() {
        #expect(DNSMessage.reverseName([192, 0, 2, 7]) == "7.2.0.192.in-addr.arpa")
        let v6 = [UInt8](repeating: 0, count: 15) + [1]
        #expect(DNSMessage.reverseName(v6) == "1." + Array(repeating: "0", count: 31).joined(separator: ".") + ".ip6.arpa")
        #expect(DNSMessage.reverseName([1, 2, 3]) == nil)
    }

    /// An A answer yields the address and its TTL.
    @Test func parsesAddress() throws {
        let q = try #require(DNSMessage.query(name: "good.test", type: .a))
        let id = try #require(DNSMessage.id(of: q))
        let r = dnsResponse(to: q, answers: [(1, 300, [127, 0, 0, 2])])
        let answer = try DNSMessage.parse(r, id: id, name: "good.test", type: .a).get()
        #expect(answer.rcode == 0)
        #expect(answer.records.map(\.data) == [.address([127, 0, 0, 2])])
        #expect(answer.records.map(\.ttl) == [300])
    }

    /// A PTR answer's compressed target name is expanded.
    @Test func parsesPointer() throws {
        let name = "2.0.0.127.in-addr.arpa"
        let q = try #require(DNSMessage.query(name: name, type: .ptr))
        let id = try #require(DNSMessage.id(of: q))
        let r = dnsResponse(to: q, answers: [(12, 60, [4] + Array("host".utf8) + [0xC0, 0x0C])])
        let answer = try DNSMessage.parse(r, id: id, name: name, type: .ptr).get()
        #expect(answer.records.map(\.data) == [.name("host.2.0.0.127.in-addr.arpa")])
    }

    /// NXDOMAIN and truncation are reported, not hidden.
    @Test func rcodeAndTruncation() throws {
        let q = try #require(DNSMessage.query(name: "nx.test", type: .a))
        let id = try #require(DNSMessage.id(of: q))
        #expect(try DNSMessage.parse(dnsResponse(to: q, rcode: 3), id: id, name: "nx.test", type: .a).get().rcode == 3)
        #expect(try DNSMessage.parse(dnsResponse(to: q, truncated: true), id: id, name: "nx.test", type: .a).get().truncated)
    }

    /// A reply with another ID, another question, or that is a query is not ours.
    @Test func foreignRepliesAreNotOurs() throws {
        let q = try #require(DNSMessage.query(name: "good.test", type: .a))
        let id = try #require(DNSMessage.id(of: q))
        let other = dnsResponse(to: q, answers: [(1, 300, [1, 2, 3, 4])], id: id &+ 1)
        #expect(DNSMessage.parse(other, id: id, name: "good.test", type: .a) == .failure(.notOurs))
        let r = dnsResponse(to: q, answers: [(1, 300, [1, 2, 3, 4])])
        #expect(DNSMessage.parse(r, id: id, name: "evil.test", type: .a) == .failure(.notOurs))
        #expect(DNSMessage.parse(r, id: id, name: "good.test", type: .aaaa) == .failure(.notOurs))
        #expect(DNSMessage.parse(q, id: id, name: "good.test", type: .a) == .failure(.notOurs))
    }

    /// Lengths are never trusted: short, cut and looping messages are malformed.
    @Test func malformedMessages() throws {
        let q = try #require(DNSMessage.query(name: "good.test", type: .a))
        let id = try #require(DNSMessage.id(of: q))
        let r = dnsResponse(to: q, answers: [(1, 300, [127, 0, 0, 2])])
        #expect(DNSMessage.parse(Array(r.prefix(5)), id: id, name: "good.test", type: .a) == .failure(.malformed))
        #expect(DNSMessage.parse(Array(r.dropLast(2)), id: id, name: "good.test", type: .a) == .failure(.malformed))
        // An A record with a 3-byte address.
        let short = dnsResponse(to: q, answers: [(1, 300, [127, 0, 0])])
        #expect(DNSMessage.parse(short, id: id, name: "good.test", type: .a) == .failure(.malformed))
        // A PTR target that points at itself.
        let pq = try #require(DNSMessage.query(name: "x.test", type: .ptr))
        let pid = try #require(DNSMessage.id(of: pq))
        let loopAt = UInt8(pq.count + 12)
        let looping = dnsResponse(to: pq, answers: [(12, 60, [0xC0, loopAt])])
        #expect(DNSMessage.parse(looping, id: pid, name: "x.test", type: .ptr) == .failure(.malformed))
    }

    /// Records owned by another name are ignored; a CNAME's target owns answers too.
    @Test func ownersAndAliases() throws {
        let q = try #require(DNSMessage.query(name: "www.test", type: .a))
        let id = try #require(DNSMessage.id(of: q))
        // www.test CNAME real.test; real.test A 10.0.0.1 (owner written in full); other.test A 10.0.0.2.
        var r = dnsResponse(to: q, answers: [(5, 60, wireName("real.test"))])
        r[7] = 3
        r += wireName("real.test") + [0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]
        r += wireName("other.test") + [0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 2]
        let answer = try DNSMessage.parse(r, id: id, name: "www.test", type: .a).get()
        #expect(answer.records.map(\.data) == [.address([10, 0, 0, 1])])
    }
}

@Suite struct ResolverCacheTests {
    final class Clock: Sendable {
        let nanos = Mutex<Int64>(1_000)
        func advance(seconds: Int64) { nanos.withLock { $0 += seconds * 1_000_000_000 } }
        var now: Int64 { nanos.withLock { $0 } }
    }

    /// An entry lives for its TTL and not a moment longer.
    @Test func expiresAfterTTL() {
        let clock = Clock()
        let cache = DNSCache(now: { clock.now })
        let key = DNSCache.Key(name: "Good.Test", type: .a)
        cache.put(key, .records([.address([1, 2, 3, 4])]), ttlSeconds: 60)
        clock.advance(seconds: 59)
        #expect(cache.get(DNSCache.Key(name: "good.test", type: .a)) == .records([.address([1, 2, 3, 4])]))
        #expect(cache.get(DNSCache.Key(name: "good.test", type: .aaaa)) == nil)
        clock.advance(seconds: 1)
        #expect(cache.get(key) == nil)
        #expect(cache.count == 0)
    }

    /// A zero TTL is not cached (RFC 1035 §3.2.1).
    @Test func zeroTTLNotKept() {
        let cache = DNSCache(now: { 0 })
        cache.put(DNSCache.Key(name: "a", type: .a), .noSuchData, ttlSeconds: 0)
        #expect(cache.count == 0)
    }

    /// A full cache drops expired entries first, then the one expiring soonest.
    @Test func boundedSize() {
        let clock = Clock()
        let cache = DNSCache(capacity: 2, now: { clock.now })
        cache.put(DNSCache.Key(name: "short", type: .a), .noSuchData, ttlSeconds: 10)
        cache.put(DNSCache.Key(name: "long", type: .a), .noSuchData, ttlSeconds: 100)
        cache.put(DNSCache.Key(name: "new", type: .a), .noSuchData, ttlSeconds: 50)
        #expect(cache.count == 2)
        #expect(cache.get(DNSCache.Key(name: "short", type: .a)) == nil)
        #expect(cache.get(DNSCache.Key(name: "long", type: .a)) == .noSuchData)
        clock.advance(seconds: 60)
        cache.put(DNSCache.Key(name: "newer", type: .a), .noSuchData, ttlSeconds: 5)
        #expect(cache.count == 2)
        #expect(cache.get(DNSCache.Key(name: "newer", type: .a)) == .noSuchData)
    }
}

@Suite struct ResolverNameValidationTests {
    /// Evil names from DNS never pass: CRLF, spaces, control bytes, overlong names and labels.
    @Test(arguments: [
        "host.example\r\nAuth-User: admin", "host example", "host\texample", "host\0example", "",
        String(repeating: "a", count: 300), String(repeating: "a", count: 64) + ".example",
        "a..b", ".lead", "under_score.example", "ünicode.example", "[UNAVAILABLE]",
    ])
    func rejects(name: String) {
        #expect(!HostNameValidation.isValid(name))
    }

    /// Ordinary host names pass, up to 253 characters.
    @Test func accepts() {
        #expect(HostNameValidation.isValid("mail-1.Example.ORG"))
        let label = String(repeating: "a", count: 63)
        let long = [label, label, label, String(repeating: "b", count: 61)].joined(separator: ".")
        #expect(long.utf8.count == 253)
        #expect(HostNameValidation.isValid(long))
    }

    /// The placeholders are nginx's spellings.
    @Test func placeholders() {
        #expect(ClientName.unavailable.text == "[UNAVAILABLE]")
        #expect(ClientName.temporarilyUnavailable.text == "[TEMPUNAVAIL]")
        #expect(ClientName.name("a.test").text == "a.test")
    }
}
