import Foundation
import TestSupport
import Glibc
import Testing
@testable import Server

@Suite(.serialized) struct DeployReloadTests {
    /// HUP with a changed config: a live session keeps its settings, new sessions see the new
    /// imap_capabilities, a removed listener closes, a new one opens; a broken file is refused
    /// and the previous config keeps serving.
    @Test func reloadChangesListenersAndCapabilities() throws {
        guard posternBinary != nil else { return }
        let dir = try makeTempDirectory("reload")
        let kept = freeLoopbackPort(), removed = freeLoopbackPort(), added = freeLoopbackPort()
        let before = minimalConfig(dir: dir, servers: [
            "listen 127.0.0.1:\(kept); protocol imap; imap_capabilities IMAP4rev1 OLDCAP;",
            "listen 127.0.0.1:\(removed); protocol imap;",
        ])
        let after = minimalConfig(dir: dir, servers: [
            "listen 127.0.0.1:\(kept); protocol imap; imap_capabilities IMAP4rev1 NEWCAP;",
            "listen 127.0.0.1:\(added); protocol imap;",
        ])
        let postern = try PosternProcess(dir: dir, config: before)
        #expect(postern.waitForLog("start serving"), "\(postern.log)")

        let live = try #require(RawClient(port: kept))
        #expect(live.readLine()?.hasPrefix("* OK") == true)
        #expect(live.capability(tag: "a1")?.contains("OLDCAP") == true)
        #expect(RawClient(port: added, attempts: 1) == nil)

        try postern.rewriteConfig(after)
        postern.signal(SIGHUP)
        #expect(postern.waitForLog("reloaded: 2 listeners", count: 1), "\(postern.log)")

        // The session that started before the reload continues with its own settings.
        let liveCapability = live.capability(tag: "a2")
        #expect(liveCapability?.contains("OLDCAP") == true, "\(liveCapability ?? "nil")")
        let fresh = try #require(RawClient(port: kept, attempts: 1))
        #expect(fresh.readLine()?.hasPrefix("* OK") == true)
        let freshCapability = fresh.capability()
        #expect(freshCapability?.contains("NEWCAP") == true && freshCapability?.contains("OLDCAP") == false)
        #expect(RawClient(port: removed, attempts: 1) == nil)
        let other = try #require(RawClient(port: added, attempts: 1))
        #expect(other.readLine()?.hasPrefix("* OK") == true)

        // A broken file: refused, and the configuration loaded last keeps serving.
        try postern.rewriteConfig(after.replacingOccurrences(of: "events {}", with: "events {} no_such_directive;"))
        postern.signal(SIGHUP)
        #expect(postern.waitForLog("reload refused", count: 1), "\(postern.log)")
        #expect(postern.log.contains("unknown directive \"no_such_directive\""))
        let afterBroken = try #require(RawClient(port: kept, attempts: 1))
        #expect(afterBroken.readLine()?.hasPrefix("* OK") == true)
        #expect(afterBroken.capability()?.contains("NEWCAP") == true)
        #expect(RawClient(port: added, attempts: 1) != nil)
        #expect(live.capability(tag: "a3")?.contains("OLDCAP") == true)
        #expect(postern.stop() == 0)
    }
}

/// scripts/testenv.sh's Dovecot and example auth service in a temporary directory.
final class DeployBackends {
    let dir: String
    let values: [String: String]

    init?() throws {
        let script = packageRoot.appendingPathComponent("scripts/testenv.sh").path
        guard FileManager.default.fileExists(atPath: script),
              FileManager.default.isExecutableFile(atPath: "/usr/sbin/dovecot") else { return nil }
        dir = try makeTempDirectory("backends")
        // Output to files: the daemons inherit it, and a pipe would never reach EOF.
        guard let started = runTool("/bin/bash", ["-c", "exec bash \"$0\" start \"$1\" >\"$1/start.log\" 2>&1 </dev/null",
                                                  script, dir], seconds: 90),
              started.status == 0 else {
            _ = runTool("/bin/bash", ["-c", "exec bash \"$0\" stop \"$1\" >/dev/null 2>&1 </dev/null", script, dir])
            throw DeployTestError.failed("testenv start failed: "
                + ((try? String(contentsOfFile: dir + "/start.log", encoding: .utf8)) ?? ""))
        }
        var values: [String: String] = [:]
        for line in try String(contentsOfFile: dir + "/env", encoding: .utf8).split(separator: "\n")
        where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...]).trimmingCharacters(in: ["\""])
        }
        self.values = values
    }

    func stop() {
        let script = packageRoot.appendingPathComponent("scripts/testenv.sh").path
        _ = runTool("/bin/bash", ["-c", "exec bash \"$0\" stop \"$1\" >/dev/null 2>&1 </dev/null", script, dir], seconds: 30)
    }
}

@Suite(.serialized) struct DeployLiveReloadTests {
    /// With Dovecot and the example auth service: a logged-in session keeps working across a reload
    /// (new listener, changed capabilities) and a refused broken reload; new sessions log in on the new
    /// listener; the password is in no log.
    @Test func loggedInSessionSurvivesReload() throws {
        guard posternBinary != nil, let backends = try DeployBackends() else { return }
        defer { backends.stop() }
        let authPort = try #require(backends.values["AUTH_PORT"])
        let user = backends.values["TEST_USER"] ?? "alice", password = backends.values["TEST_PASS"] ?? "wonderland"
        let dir = try makeTempDirectory("live-reload")
        let kept = freeLoopbackPort(), added = freeLoopbackPort()
        func config(_ servers: [String]) -> String {
            minimalConfig(dir: dir, level: "debug", servers: servers)
                .replacingOccurrences(of: "auth_http 127.0.0.1:1/auth;", with: "auth_http 127.0.0.1:\(authPort)/auth;")
        }
        let first = config(["listen 127.0.0.1:\(kept); protocol imap; imap_auth plain login; imap_capabilities IMAP4rev1 OLDCAP;"])
        let second = config(["listen 127.0.0.1:\(kept); protocol imap; imap_auth plain login; imap_capabilities IMAP4rev1 NEWCAP;",
                             "listen 127.0.0.1:\(added); protocol imap; imap_auth plain login;"])
        let postern = try PosternProcess(dir: dir, config: first)
        defer { postern.stop() }
        #expect(postern.waitForLog("start serving"), "\(postern.log)")

        func login(_ client: RawClient, tag: String) -> String? {
            client.send("\(tag) LOGIN \(user) \(password)\r\n")
            return client.readUntil(prefix: "\(tag) ").last
        }
        let live = try #require(RawClient(port: kept))
        #expect(live.readLine()?.hasPrefix("* OK") == true)
        #expect(login(live, tag: "a1")?.hasPrefix("a1 OK") == true, "\(postern.log)")
        live.send("a2 SELECT INBOX\r\n")
        #expect(live.readUntil(prefix: "a2 ").last?.hasPrefix("a2 OK") == true)

        try postern.rewriteConfig(second)
        postern.signal(SIGHUP)
        #expect(postern.waitForLog("reloaded: 2 listeners", count: 1), "\(postern.log)")
        live.send("a3 NOOP\r\n")
        #expect(live.readUntil(prefix: "a3 ").last?.hasPrefix("a3 OK") == true, "\(postern.log)")

        let fresh = try #require(RawClient(port: added, attempts: 1))
        #expect(fresh.readLine()?.hasPrefix("* OK") == true)
        #expect(fresh.capability(tag: "b0")?.contains("OLDCAP") == false)
        #expect(login(fresh, tag: "b1")?.hasPrefix("b1 OK") == true)

        try postern.rewriteConfig(second + "\nbroken {\n")
        postern.signal(SIGHUP)
        #expect(postern.waitForLog("reload refused", count: 1), "\(postern.log)")
        live.send("a4 FETCH 1:* (FLAGS)\r\n")
        #expect(live.readUntil(prefix: "a4 ", maxLines: 1000).last?.hasPrefix("a4 OK") == true)
        live.send("a5 LOGOUT\r\n")
        #expect(live.readUntil(prefix: "a5 ").last?.hasPrefix("a5 OK") == true)
        fresh.send("b2 LOGOUT\r\n")
        _ = fresh.readUntil(prefix: "b2 ")
        #expect(postern.stop() == 0)
        for secret in [password, Data(password.utf8).base64EncodedString()] {
            #expect(!postern.log.contains(secret) && !postern.stderr.contains(secret))
        }
    }
}
