import Foundation
import TestSupport
import Testing

/// The built Postern with `resolver` pointing at a real dnsmasq: the IMAP session
/// log names the client by its forward-confirmed reverse-DNS name, and a dead name
/// server costs at most `resolver_timeout` before the greeting.
@Suite("Resolver with dnsmasq", .serialized,
       .enabled(if: PosternBinary.canProxy && !PosternBinary.isNginxOracle
                    && FileManager.default.isExecutableFile(atPath: "/usr/sbin/dnsmasq"),
                "postern cannot proxy yet, or no dnsmasq"))
struct ResolverDNSMasqIntegrationTests {
    /// dnsmasq on a free loopback port with good.test (127.0.0.2, PTR and A) and a
    /// PTR for 127.0.0.3 to bad.test, whose A record is 127.0.0.9.
    final class DNSServer {
        /// Not a Foundation `Process`: see `SpawnedProcess`.
        let process: SpawnedProcess
        let port: Int

        init(directory: URL) throws {
            let hosts = directory.appendingPathComponent("dns-hosts")
            try "127.0.0.2 good.test\n127.0.0.9 bad.test\n".write(to: hosts, atomically: true, encoding: .utf8)
            port = freeLoopbackUDPAndTCPPort()
            process = try SpawnedProcess("/usr/sbin/dnsmasq", [
                "--no-daemon", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                "--no-hosts", "--addn-hosts=\(hosts.path)", "--conf-file=/dev/null", "--user=root",
                "--pid-file=\(directory.appendingPathComponent("dnsmasq.pid").path)",
                "--local=/test/", "--local=/127.in-addr.arpa/", "--local-ttl=60",
                "--ptr-record=3.0.0.127.in-addr.arpa,bad.test",
            ])
            for _ in 0..<40 where !loopbackPortAccepts(port) {
                guard process.isRunning else { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }

        func stop() { process.kill() }
    }

    /// A confirmed name is logged; a PTR whose A record does not match is [UNAVAILABLE].
    @Test func clientNamesInLog() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        let dns = try DNSServer(directory: env.directory)
        defer { dns.stop() }
        let postern = try await PosternProcess(environment: env,
                                         serverExtra: "        resolver 127.0.0.1:\(dns.port);\n        resolver_timeout 2s;")
        defer { postern.stop() }
        _ = try imapLogin(from: "127.0.0.2", port: postern.port, user: "alice", password: "wonderland")
        _ = try imapLogin(from: "127.0.0.3", port: postern.port, user: "alice", password: "wonderland")
        let log = postern.logs()
        #expect(log.contains("(good.test) connected"), "\(log)")
        #expect(log.contains("([UNAVAILABLE]) connected"), "\(log)")
    }

    /// A name server that never answers yields [TEMPUNAVAIL] within resolver_timeout.
    @Test func deadServerIsBounded() async throws {
        let env = try await TestEnvironment()
        defer { env.stop() }
        // A bound UDP socket that never answers.
        let silent = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(silent) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(silent, $0, len) == 0 && getsockname(silent, $0, &len) == 0 }
        }
        let port = Int(UInt16(bigEndian: sin.sin_port))
        let postern = try await PosternProcess(environment: env,
                                         serverExtra: "        resolver 127.0.0.1:\(port);\n        resolver_timeout 1s;")
        defer { postern.stop() }
        let start = Date()
        let transcript = try imapLogin(from: "127.0.0.4", port: postern.port, user: "alice", password: "wonderland")
        let elapsed = Date().timeIntervalSince(start)
        #expect(transcript.contains("a1 OK"), "\(transcript)")
        #expect(elapsed < 4, "took \(elapsed) s")
        #expect(postern.logs().contains("([TEMPUNAVAIL]) connected"), "\(postern.logs())")
    }
}

/// A loopback port free for TCP and UDP at the time of the call.
func freeLoopbackUDPAndTCPPort() -> Int {
    for _ in 0..<20 {
        let port = freeLoopbackPort()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(port).bigEndian
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        close(fd)
        if ok { return port }
    }
    return freeLoopbackPort()
}
