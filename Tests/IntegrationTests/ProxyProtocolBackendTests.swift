import Foundation
import Testing

/// `proxy_protocol on` in a server block: Postern's first bytes to the backend are a
/// PROXY v1 header naming the client and the address it connected to, as nginx sends.
@Suite("PROXY protocol to the backend",
       .enabled(if: PosternBinary.canProxy && !PosternBinary.isNginxOracle, "postern cannot proxy yet"))
struct ProxyProtocolBackendTests {
    /// A backend that records the first line it receives, then closes.
    final class FirstLineBackend: @unchecked Sendable {  // line is behind the lock
        let fd: Int32
        let port: Int
        private let lock = NSLock()
        private var line = ""
        private var thread: Thread?

        init() throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let fd = self.fd
            _ = withUnsafeMutablePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
            }
            listen(fd, 4)
            port = Int(UInt16(bigEndian: sin.sin_port))
            let t = Thread { [unowned self] in self.serveOne() }
            thread = t
            t.start()
        }

        private func serveOne() {
            // No timeout on accept: the environment may take long to start under
            // load; stop() shuts the listener down, which wakes accept.
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            defer { close(client) }
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var got: [UInt8] = []
            var byte: UInt8 = 0
            while got.count < 200, read(client, &byte, 1) == 1 {
                got.append(byte)
                if byte == 0x0A { break }
            }
            lock.lock(); line = String(decoding: got, as: UTF8.self); lock.unlock()
        }

        var firstLine: String { lock.lock(); defer { lock.unlock() }; return line }

        func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    /// The backend's first line is `PROXY TCP4 <client> <postern> <client port> <postern port>`.
    @Test func v1HeaderFirst() async throws {
        let backend = try FirstLineBackend()
        defer { backend.stop() }
        let env = try await TestEnvironment(authArguments: "--imap-port \(backend.port)")
        defer { env.stop() }
        let postern = try await PosternProcess(environment: env, serverExtra: "        proxy_protocol on;")
        defer { postern.stop() }
        _ = try imapLogin(from: "127.0.0.8", port: postern.port, user: "alice", password: "wonderland")
        var line = ""
        for _ in 0..<100 {
            line = backend.firstLine
            if !line.isEmpty { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let fields = line.split(separator: " ").map(String.init)
        #expect(fields.count == 6, "\(line)\n\(postern.logs())")
        #expect(Array(fields.prefix(4)) == ["PROXY", "TCP4", "127.0.0.8", "127.0.0.1"])
        #expect(fields.last == "\(postern.port)\r\n")
    }
}
