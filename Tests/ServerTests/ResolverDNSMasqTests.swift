import Foundation
import Glibc
import Testing
@testable import Server
import TestSupport

/// A dnsmasq on a free loopback UDP port serving fixed records, for as long as the value lives.
final class DNSMasq {
    let port: UInt16
    /// Not a Foundation `Process`: see `SpawnedProcess`.
    let process: SpawnedProcess
    let directory: URL

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/dnsmasq") }

    /// `hosts`: lines of an /etc/hosts file (A and PTR); `ptr`: extra PTR records (reverse name, target).
    init(hosts: [String], ptr: [(String, String)]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dnsmasq-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let hostsFile = directory.appendingPathComponent("hosts")
        try (hosts.joined(separator: "\n") + "\n").write(to: hostsFile, atomically: true, encoding: .utf8)
        port = try freeUDPPort()
        let arguments = [
            "--no-daemon", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
            "--no-hosts", "--addn-hosts=\(hostsFile.path)", "--conf-file=/dev/null",
            "--pid-file=\(directory.appendingPathComponent("pid").path)", "--user=root",
            // Unknown names here are NXDOMAIN, not "refused, no upstream".
            "--local=/test/", "--local=/127.in-addr.arpa/", "--local-ttl=60",
        ] + ptr.map { "--ptr-record=\($0.0),\($0.1)" }
        let log = directory.appendingPathComponent("log")
        process = try SpawnedProcess("/usr/sbin/dnsmasq", arguments, outputPath: log.path)
        // Ready once it answers.
        let resolver = DNSResolver(servers: [.ipv4(bytes: [127, 0, 0, 1], port: port)], timeoutMillis: 200,
                                   cache: DNSCache(capacity: 1))
        for _ in 0..<50 {
            if case .success = resolver.lookup("ready.test", type: .a, deadline: .after(millis: 200)) { return }
            if !process.isRunning { break }
            usleep(50_000)
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        stop()
        throw DNSMasqError.notReady(text)
    }

    enum DNSMasqError: Error { case notReady(String), noPort }

    func stop() {
        // SIGKILL: a test runner may hand its blocked SIGTERM mask down to
        // children, and this dnsmasq holds nothing worth a clean exit.
        process.kill()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}

/// A port on 127.0.0.1 free for both UDP and TCP (dnsmasq binds both).
func freeUDPPort() throws -> UInt16 {
    for _ in 0..<20 {
        let port = try freePort(type: Int32(SOCK_DGRAM.rawValue), port: 0)
        if (try? freePort(type: Int32(SOCK_STREAM.rawValue), port: port)) != nil { return port }
    }
    throw DNSMasq.DNSMasqError.noPort
}

private func freePort(type: Int32, port: UInt16) throws -> UInt16 {
    let fd = socket(AF_INET, type, 0)
    defer { close(fd) }
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = port.bigEndian
    sin.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &sin) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
            bind(fd, p, len) == 0 && getsockname(fd, p, &len) == 0
        }
    }
    guard ok else { throw DNSMasq.DNSMasqError.noPort }
    return UInt16(bigEndian: sin.sin_port)
}

/// A UDP socket that receives queries and never answers (a dead name server).
final class SilentUDPServer {
    let fd: Int32
    let port: UInt16
    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in bind(fd, p, len) == 0 && getsockname(fd, p, &len) == 0 }
        }
        port = UInt16(bigEndian: sin.sin_port)
    }
    deinit { close(fd) }
}

@Suite(.serialized, .enabled(if: DNSMasq.available)) struct ResolverDNSMasqTests {
    /// Starts dnsmasq, on another port if a parallel test took the first one.
    static func records() throws -> DNSMasq {
        for _ in 0..<4 {
            if let started = try? startRecords() { return started }
        }
        return try startRecords()
    }

    static func startRecords() throws -> DNSMasq {
        try DNSMasq(hosts: ["127.0.0.2 good.test", "127.0.0.9 bad.test", "::2 six.test"],
                    ptr: [("3.0.0.127.in-addr.arpa", "bad.test"),
                          ("4.0.0.127.in-addr.arpa", "evil_name.test")])
    }

    private func resolver(_ dns: DNSMasq, timeout: Int = 2000) -> DNSResolver {
        DNSResolver(servers: [.ipv4(bytes: [127, 0, 0, 1], port: dns.port)], timeoutMillis: timeout)
    }

    /// PTR confirmed by a matching A record yields the name.
    @Test func confirmedName() throws {
        let dns = try Self.records()
        defer { dns.stop() }
        #expect(resolver(dns).resolveClientName(.ipv4(bytes: [127, 0, 0, 2], port: 1)) == .name("good.test"))
    }

    /// A PTR whose name's A record is another address is [UNAVAILABLE].
    @Test func unconfirmedName() throws {
        let dns = try Self.records()
        defer { dns.stop() }
        #expect(resolver(dns).resolveClientName(.ipv4(bytes: [127, 0, 0, 3], port: 1)) == .unavailable)
    }

    /// No PTR record at all is [UNAVAILABLE].
    @Test func noPointer() throws {
        let dns = try Self.records()
        defer { dns.stop() }
        #expect(resolver(dns).resolveClientName(.ipv4(bytes: [127, 0, 0, 5], port: 1)) == .unavailable)
    }

    /// A PTR to a name with characters outside RFC 1034 is [TEMPUNAVAIL], as nginx answers.
    @Test func invalidName() throws {
        let dns = try Self.records()
        defer { dns.stop() }
        #expect(resolver(dns).resolveClientName(.ipv4(bytes: [127, 0, 0, 4], port: 1)) == .temporarilyUnavailable)
    }

    /// Forward lookups: A, AAAA, NXDOMAIN; answers come from the cache afterwards.
    @Test func forwardAndCache() throws {
        let dns = try Self.records()
        let r = resolver(dns)
        #expect(r.lookup("good.test", type: .a, deadline: .after(millis: 2000)) == .success(.records([.address([127, 0, 0, 2])])))
        #expect(r.lookup("six.test", type: .aaaa, deadline: .after(millis: 2000))
            == .success(.records([.address([UInt8](repeating: 0, count: 15) + [2])])))
        #expect(r.lookup("nx.test", type: .a, deadline: .after(millis: 2000)) == .success(.noSuchData))
        dns.stop()
        // The server is gone; the cached answer still serves.
        #expect(r.lookup("GOOD.test", type: .a, deadline: .after(millis: 300)) == .success(.records([.address([127, 0, 0, 2])])))
    }

    /// A dead first server costs one attempt; round robin reaches the live one.
    @Test func deadServerThenLiveOne() throws {
        let dns = try Self.records()
        defer { dns.stop() }
        let silent = try SilentUDPServer()
        let r = DNSResolver(servers: [.ipv4(bytes: [127, 0, 0, 1], port: silent.port),
                                      .ipv4(bytes: [127, 0, 0, 1], port: dns.port)], timeoutMillis: 3000)
        #expect(r.resolveClientName(.ipv4(bytes: [127, 0, 0, 2], port: 1)) == .name("good.test"))
    }

    /// A server that never answers yields [TEMPUNAVAIL] within resolver_timeout, not a hang.
    @Test func silentServerTimesOut() throws {
        let silent = try SilentUDPServer()
        let r = DNSResolver(servers: [.ipv4(bytes: [127, 0, 0, 1], port: silent.port)], timeoutMillis: 500)
        let start = monotonicNanoseconds()
        #expect(r.resolveClientName(.ipv4(bytes: [127, 0, 0, 2], port: 1)) == .temporarilyUnavailable)
        let elapsed = (monotonicNanoseconds() - start) / 1_000_000
        #expect(elapsed >= 450 && elapsed < 1000)
    }

    /// Unix-socket clients are [TEMPUNAVAIL] without any lookup, as in nginx.
    @Test func unixClient() {
        let r = DNSResolver(servers: [], timeoutMillis: 100)
        #expect(r.resolveClientName(.unix(path: "/run/x")) == .temporarilyUnavailable)
    }
}
