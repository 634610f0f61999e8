import Foundation
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
