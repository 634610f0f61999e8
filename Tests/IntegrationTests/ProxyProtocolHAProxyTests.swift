import Foundation
import TestSupport
import Testing

/// HAProxy in TCP mode with `send-proxy-v2` in front of two Postern processes (round
/// robin): an IMAP login through either reaches the auth service with the real client
/// address, as Postern nodes behind a load balancer must see it.
@Suite("PROXY protocol behind HAProxy", .serialized,
       .enabled(if: PosternBinary.canProxy && !PosternBinary.isNginxOracle
                    && FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"),
                "postern cannot proxy yet, or no haproxy"))
struct ProxyProtocolHAProxyTests {
    /// Two Posterns, each with a `proxy_protocol` listener and its own environment
    /// (Dovecot and auth service), and HAProxy before them.
    final class Stack {
        var envs: [TestEnvironment] = []
        var posterns: [PosternProcess] = []
        var proxyPorts: [Int] = []
        var haproxy = Process()
        var haproxyPort = 0

        init(trust: String) async throws {
            do {
                for _ in 0..<2 {
                    let port = freeLoopbackPort()
                    let extra = "        listen 127.0.0.1:\(port) proxy_protocol;\n        set_real_ip_from \(trust);"
                    let env = try await TestEnvironment()
                    envs.append(env)
                    posterns.append(try await PosternProcess(environment: env, serverExtra: extra))
                    proxyPorts.append(port)
                }
                try startHAProxy()
            } catch {
                stop()
                throw error
            }
        }

        /// HAProxy exits when its port is taken after all; then it gets another.
        private func startHAProxy() throws {
            for _ in 0..<3 {
                haproxyPort = freeLoopbackPort()
                haproxy = Process()
                if try startHAProxy(port: haproxyPort) { return }
            }
            let log = envs[0].directory.appendingPathComponent("haproxy/haproxy.log")
            throw StackError.haproxyDidNotListen((try? String(contentsOf: log, encoding: .utf8)) ?? "")
        }

        enum StackError: Error { case haproxyDidNotListen(String) }

        private func startHAProxy(port haproxyPort: Int) throws -> Bool {
            let directory = envs[0].directory.appendingPathComponent("haproxy")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let config = """
                global
                    maxconn 100
                    nbthread 1
                defaults
                    mode tcp
                    timeout connect 5s
                    timeout client 30s
                    timeout server 30s
                frontend imap
                    bind 127.0.0.1:\(haproxyPort)
                    default_backend posterns
                backend posterns
                    balance roundrobin
                    server p0 127.0.0.1:\(proxyPorts[0]) send-proxy-v2
                    server p1 127.0.0.1:\(proxyPorts[1]) send-proxy-v2

                """
            let file = directory.appendingPathComponent("haproxy.cfg")
            try config.write(to: file, atomically: true, encoding: .utf8)
            haproxy.executableURL = URL(fileURLWithPath: "/usr/sbin/haproxy")
            haproxy.arguments = ["-db", "-f", file.path]
            let log = directory.appendingPathComponent("haproxy.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            haproxy.standardOutput = handle
            haproxy.standardError = handle
            haproxy.standardInput = FileHandle.nullDevice
            try haproxy.run()
            try? handle.close()
            for _ in 0..<100 where haproxy.isRunning {
                if loopbackPortAccepts(haproxyPort) { return haproxy.isRunning }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return false
        }

        func stop() {
            if haproxy.isRunning {
                kill(haproxy.processIdentifier, SIGKILL)
                haproxy.waitUntilExit()
            }
            for postern in posterns { postern.stop() }
            for env in envs { env.stop() }
        }

        /// The auth requests of both nodes, as header dictionaries.
        func authHeaders() throws -> [[String: String]] {
            try envs.flatMap { try $0.authRequests() }.compactMap { $0["headers"] as? [String: String] }
        }

        func logs() -> String { posterns.map { $0.logs() }.joined(separator: "\n") }
    }

    /// A trusted proxy: Client-IP is the client's own address (127.0.0.7 here, not
    /// HAProxy's 127.0.0.1), the Proxy-Protocol-* headers name both ends, and both
    /// nodes served one of the two logins.
    @Test func realClientAddressThroughEitherNode() async throws {
        let stack = try await Stack(trust: "127.0.0.1")
        defer { stack.stop() }
        // Four logins: round robin gives each node two, readiness probes aside.
        for _ in 0..<4 {
            let transcript = try imapLogin(from: "127.0.0.7", port: stack.haproxyPort, user: "alice", password: "wonderland")
            #expect(transcript.contains("a1 OK"), "\(transcript)\n\(stack.logs())")
        }
        let requests = try stack.authHeaders()
        #expect(requests.count == 4, "\(stack.logs())")
        for headers in requests {
            #expect(headers["Client-IP"] == "127.0.0.7")
            #expect(headers["Proxy-Protocol-Addr"] == "127.0.0.7")
            #expect(headers["Proxy-Protocol-Server-Addr"] == "127.0.0.1")
            #expect(headers["Proxy-Protocol-Server-Port"] == String(stack.haproxyPort))
        }
        for postern in stack.posterns {
            #expect(postern.logs().contains("client 127.0.0.7:"), "\(postern.logs())")
        }
    }

    /// An untrusted proxy's header is reported but does not replace the client address.
    @Test func untrustedProxyKeepsPeerAddress() async throws {
        let stack = try await Stack(trust: "192.0.2.0/24")
        defer { stack.stop() }
        let transcript = try imapLogin(from: "127.0.0.7", port: stack.haproxyPort, user: "alice", password: "wonderland")
        #expect(transcript.contains("a1 OK"), "\(transcript)\n\(stack.logs())")
        let headers = try stack.authHeaders().last ?? [:]
        #expect(headers["Client-IP"] == "127.0.0.1")
        #expect(headers["Proxy-Protocol-Addr"] == "127.0.0.7")
    }
}

/// A minimal IMAP client bound to `source` (any 127/8 address works on loopback):
/// greeting, LOGIN, LOGOUT. Returns what the server said.
func imapLogin(from source: String, port: Int, user: String, password: String) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    func address(_ host: String, _ port: Int) -> sockaddr_in {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(port).bigEndian
        sin.sin_addr.s_addr = inet_addr(host)
        return sin
    }
    var local = address(source, 0)
    var remote = address("127.0.0.1", port)
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
    guard bound == 0, connected == 0 else { return "connect failed: errno \(errno)" }
    var transcript = ""
    func readUntil(_ marker: String) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<50 where !transcript.contains(marker) {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return }
            transcript += String(decoding: buffer.prefix(n), as: UTF8.self)
        }
    }
    func send(_ line: String) { _ = Array(line.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
    readUntil("\r\n")
    send("a1 LOGIN \(user) \(password)\r\n")
    readUntil("a1 ")
    readUntil("\r\n")
    send("a2 LOGOUT\r\n")
    readUntil("a2 ")
    return transcript
}
