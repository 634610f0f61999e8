import Foundation
import TestSupport
import Glibc
import Testing
@testable import Server

@Suite(.serialized) struct DeployNotifyTests {
    /// NOTIFY_SOCKET values: paths and abstract names are accepted, anything else is not.
    @Test func parsesNotifySocket() {
        #expect(SystemdNotify(environment: "/run/systemd/notify")?.path == Array("/run/systemd/notify".utf8))
        #expect(SystemdNotify(environment: "@abstract")?.path == [0] + Array("abstract".utf8))
        #expect(SystemdNotify(environment: nil) == nil)
        #expect(SystemdNotify(environment: "") == nil)
        #expect(SystemdNotify(environment: "relative/path") == nil)
        #expect(SystemdNotify(environment: "/" + String(repeating: "x", count: 200)) == nil)
    }

    /// The sender delivers one datagram of KEY=VALUE lines, to a path and to an abstract name.
    @Test(arguments: ["path", "abstract"]) func sendsDatagram(kind: String) throws {
        let name = kind == "path" ? try makeTempDirectory("notify") + "/notify.sock"
                                  : "@postern-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let receiver = try NotifyReceiver(path: name)
        let notify = try #require(SystemdNotify(environment: name))
        notify.ready(status: "serving: 1 listeners")
        #expect(receiver.receive() == "READY=1\nSTATUS=serving: 1 listeners")
        notify.reloading()
        let reloading = try #require(receiver.receive()).split(separator: "\n").map(String.init)
        #expect(reloading.first == "RELOADING=1")
        let usec = reloading.first { $0.hasPrefix("MONOTONIC_USEC=") }.flatMap { Int64($0.dropFirst(15)) }
        #expect(usec != nil && usec! > 0)
        notify.stopping()
        #expect(receiver.receive()?.hasPrefix("STOPPING=1") == true)
    }

    /// A notify socket nobody listens on is not an error the server sees.
    @Test func missingSocketIsHarmless() {
        let notify = SystemdNotify(environment: "/nonexistent/postern/notify.sock")
        #expect(notify?.send(["READY=1"]) == false)
    }

    /// The built binary says READY=1 with a STATUS once it listens, RELOADING=1 then READY=1 around HUP, STOPPING=1 on TERM.
    @Test func binaryNotifiesLifecycle() throws {
        guard posternBinary != nil else { return }
        let dir = try makeTempDirectory("notify-bin")
        let socketPath = dir + "/notify.sock"
        let receiver = try NotifyReceiver(path: socketPath)
        let port = freeLoopbackPort()
        let config = minimalConfig(dir: dir, servers: ["listen 127.0.0.1:\(port); protocol imap;"])
        let postern = try PosternProcess(dir: dir, config: config, environment: ["NOTIFY_SOCKET": socketPath])
        let ready = receiver.receive(until: "READY=1")
        #expect(ready.last?.contains("STATUS=serving: 1 listeners, 0 live sessions") == true, "\(ready) \(postern.log)")
        // READY means the listener accepts.
        let client = try #require(RawClient(port: port, attempts: 1))
        #expect(client.readLine()?.hasPrefix("* OK") == true)

        postern.signal(SIGHUP)
        let reload = receiver.receive(until: "READY=1")
        #expect(reload.first?.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") == true, "\(reload)")
        #expect(reload.last?.hasPrefix("READY=1") == true)

        _ = postern.stop()
        let stopping = receiver.receive(until: "STOPPING=1", seconds: 5)
        #expect(stopping.last?.hasPrefix("STOPPING=1") == true, "\(stopping)")
    }
}
