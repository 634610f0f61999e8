import Foundation
import TestSupport
import Glibc
import Testing
@testable import Server

@Suite(.serialized) struct DeployLogSecretsTests {
    static let user = "alice"
    static let password = "Pz9-kW!q7#Lx"

    /// An auth_http service that accepts every login and names `backendPort`.
    static func authService(backendPort: UInt16, seen: Transcript) -> FakeServer {
        FakeServer { conn in
            var headers: [String] = []
            while let line = conn.readLine(), !line.isEmpty { headers.append(line) }
            seen.append(headers.joined(separator: "\n"))
            conn.send("HTTP/1.0 200 OK\r\nAuth-Status: OK\r\nAuth-Server: 127.0.0.1\r\n"
                      + "Auth-Port: \(backendPort)\r\nConnection: close\r\n\r\n")
        }
    }

    /// An IMAP backend that takes nginx's literal LOGIN script, then answers LOGOUT.
    static func backend(seen: Transcript) -> FakeServer {
        FakeServer { conn in
            conn.send("* OK fake backend ready\r\n")
            guard let login = conn.readLine(), let tag = login.split(separator: " ").first,
                  let n = Int(login.split(separator: "{").last?.dropLast() ?? "") else { return }
            conn.send("+ go\r\n")
            guard let user = conn.readBytes(n), let rest = conn.readLine(),
                  let m = Int(rest.split(separator: "{").last?.dropLast() ?? "") else { return }
            conn.send("+ go\r\n")
            guard let pass = conn.readBytes(m), conn.readLine() != nil else { return }
            seen.append(String(decoding: user, as: UTF8.self) + ":" + String(decoding: pass, as: UTF8.self))
            conn.send("\(tag) OK LOGIN completed\r\n")
            while let line = conn.readLine() {
                let t = line.split(separator: " ").first ?? "*"
                if line.uppercased().hasSuffix("LOGOUT") {
                    conn.send("* BYE bye\r\n\(t) OK LOGOUT completed\r\n")
                    return
                }
                conn.send("\(t) OK done\r\n")
            }
        }
    }

    static func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    /// With error_log at debug, LOGIN, AUTHENTICATE PLAIN and AUTHENTICATE LOGIN through Postern leave no password, SASL payload or Auth-Pass in the log or on stderr.
    @Test func noSecretInLogs() throws {
        guard posternBinary != nil else { return }
        let authSeen = Transcript(), backendSeen = Transcript()
        let backend = Self.backend(seen: backendSeen)
        let auth = Self.authService(backendPort: backend.port, seen: authSeen)
        defer { auth.stop(); backend.stop() }
        let dir = try makeTempDirectory("secrets")
        let port = freeLoopbackPort()
        let config = minimalConfig(dir: dir, level: "debug", servers: [
            "listen 127.0.0.1:\(port); protocol imap; imap_auth plain login; error_log \(dir)/server.log debug;",
        ]).replacingOccurrences(of: "auth_http 127.0.0.1:1/auth;", with: "auth_http 127.0.0.1:\(auth.port)/auth;")
        let postern = try PosternProcess(dir: dir, config: config)
        defer { postern.stop() }
        #expect(postern.waitForLog("start serving"), "\(postern.log)")
        let user = Self.user, password = Self.password
        let plainPayload = Self.b64("\0\(user)\0\(password)")

        func session(_ login: (RawClient) -> Void) {
            guard let c = RawClient(port: port) else { Issue.record("connect failed"); return }
            #expect(c.readLine()?.hasPrefix("* OK") == true)
            login(c)
            let reply = c.readUntil(prefix: "a1 ").last
            #expect(reply?.hasPrefix("a1 OK") == true, "\(reply ?? "nil") \(postern.log)")
            c.send("a2 LOGOUT\r\n")
            _ = c.readUntil(prefix: "a2 ")
        }
        session { $0.send("a1 LOGIN \(user) \"\(password.replacingOccurrences(of: "\"", with: "\\\""))\"\r\n") }
        session { c in
            c.send("a1 AUTHENTICATE PLAIN\r\n")
            #expect(c.readLine()?.hasPrefix("+") == true)
            c.send(plainPayload + "\r\n")
        }
        session { c in
            c.send("a1 AUTHENTICATE LOGIN\r\n")
            #expect(c.readLine()?.hasPrefix("+") == true)
            c.send(Self.b64(user) + "\r\n")
            #expect(c.readLine()?.hasPrefix("+") == true)
            c.send(Self.b64(password) + "\r\n")
        }
        let serverLog = dir + "/server.log"
        func serverLogText() -> String { (try? String(contentsOfFile: serverLog, encoding: .utf8)) ?? "" }
        for _ in 0..<500 where serverLogText().components(separatedBy: "session finished").count < 4 { usleep(20_000) }
        // Sanity: the secret did travel where it must.
        #expect(authSeen.all.filter { $0.contains("Auth-Pass:") }.count == 3)
        #expect(backendSeen.all == Array(repeating: "\(user):\(password)", count: 3))

        _ = postern.stop()
        let escaped = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
        let secrets = [password, Self.b64(password), plainPayload, Self.b64("\(user)\0\(password)"),
                       escaped, "Auth-Pass"]
        let texts = ["error.log": postern.log, "stderr": postern.stderr,
                     "server.log": serverLogText()]
        #expect(texts["server.log"]!.components(separatedBy: "session finished").count == 4, "\(texts)")
        for (name, text) in texts {
            for secret in secrets {
                #expect(!text.contains(secret), "\(name) contains \(secret)")
            }
        }
    }
}
