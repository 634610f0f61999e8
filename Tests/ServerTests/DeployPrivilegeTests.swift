import Foundation
import TestSupport
import Glibc
import Testing
@testable import Server

@Suite(.serialized) struct DeployPrivilegeTests {
    /// `user` is an implemented directive now: it is no longer reported as "not supported yet".
    @Test func userDirectiveIsImplemented() {
        #expect(implementedDirectives.contains("user"))
    }

    /// Names that do not exist are refused with nginx's wording.
    @Test func unknownAccount() {
        #expect(throws: PrivilegeError.unknownUser("no-such-user-postern")) {
            _ = try ServiceAccount.lookup(user: "no-such-user-postern", group: "nogroup")
        }
        #expect(throws: PrivilegeError.unknownGroup("no-such-group-postern")) {
            _ = try ServiceAccount.lookup(user: "nobody", group: "no-such-group-postern")
        }
        #expect(PrivilegeError.unknownUser("x").description == "getpwnam(\"x\") failed")
    }

    /// Started as root with `user nobody nogroup;`, the process binds its port, then serves with every uid and gid set to nobody/nogroup and no capabilities.
    @Test func rootDropsToConfiguredUser() throws {
        guard posternBinary != nil, geteuid() == 0 else { return }
        let account = try ServiceAccount.lookup(user: "nobody", group: "nogroup")
        let dir = try makeTempDirectory("user")
        let port = freeLoopbackPort()
        let config = minimalConfig(dir: dir, main: "user nobody nogroup;",
                                   servers: ["listen 127.0.0.1:\(port); protocol imap;"])
        let postern = try PosternProcess(dir: dir, config: config)
        #expect(postern.waitForLog("start serving"), "\(postern.log)")
        let client = try #require(RawClient(port: port))
        #expect(client.readLine()?.hasPrefix("* OK") == true)

        let status = try String(contentsOfFile: "/proc/\(postern.pid)/status", encoding: .utf8)
        let fields = Dictionary(status.split(separator: "\n").compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }, uniquingKeysWith: { a, _ in a })
        let uid = "\(account.uid)", gid = "\(account.gid)"
        #expect(fields["Uid"]?.split(separator: "\t").map(String.init) == [uid, uid, uid, uid], "\(status)")
        #expect(fields["Gid"]?.split(separator: "\t").map(String.init) == [gid, gid, gid, gid])
        #expect(fields["Groups"]?.split(separator: " ").map(String.init).allSatisfy { $0 == gid } == true)
        #expect(fields["CapEff"] == "0000000000000000")
        #expect(fields["CapPrm"] == "0000000000000000")
        // Every thread (pool, relay, accept loop) dropped too, not only the main one.
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(postern.pid)/task")
        #expect(tasks.count > 1)
        for task in tasks {
            let text = (try? String(contentsOfFile: "/proc/\(postern.pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            #expect(text.contains("Uid:\t\(uid)\t\(uid)\t\(uid)\t\(uid)\n"), "task \(task)")
        }
        #expect(postern.log.contains("serving as user nobody"))
        #expect(!postern.log.contains("\"user\" directive is not supported"))
        // The log was handed over, so the unprivileged process can still reopen it.
        postern.signal(SIGUSR1)
        #expect(postern.waitForLog("reopening logs"))
        let stopped = postern.stop()
        #expect(stopped == 0, "\(postern.log)")
    }

    /// An unknown `user` stops start-up with an emerg line instead of serving as root.
    @Test func unknownUserStopsStartup() throws {
        guard posternBinary != nil, geteuid() == 0 else { return }
        let dir = try makeTempDirectory("baduser")
        let port = freeLoopbackPort()
        let config = minimalConfig(dir: dir, main: "user no-such-user-postern;",
                                   servers: ["listen 127.0.0.1:\(port); protocol imap;"])
        let postern = try PosternProcess(dir: dir, config: config)
        #expect(postern.waitForExit() == 1)
        #expect(postern.log.contains("[emerg]") && postern.log.contains("getpwnam(\"no-such-user-postern\") failed"),
                "\(postern.log)")
    }
}
