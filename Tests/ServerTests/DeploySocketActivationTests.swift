import Foundation
import TestSupport
import Glibc
import Testing
@testable import Server

@Suite(.serialized) struct DeploySocketActivationTests {
    /// LISTEN_PID must name this process and LISTEN_FDS be a positive count; otherwise nothing is inherited.
    @Test func parsesListenVariables() {
        #expect(SocketActivation.descriptors(listenPID: "42", listenFDs: "2", ownPID: 42) == 3..<5)
        #expect(SocketActivation.descriptors(listenPID: "41", listenFDs: "2", ownPID: 42).isEmpty)
        #expect(SocketActivation.descriptors(listenPID: nil, listenFDs: "2", ownPID: 42).isEmpty)
        #expect(SocketActivation.descriptors(listenPID: "42", listenFDs: "0", ownPID: 42).isEmpty)
        #expect(SocketActivation.descriptors(listenPID: "42", listenFDs: "x", ownPID: 42).isEmpty)
        #expect(SocketActivation.descriptors(listenPID: "42", listenFDs: "-1", ownPID: 42).isEmpty)
    }

    /// Under systemd-socket-activate, Postern serves on the socket it inherited for one listen address (binding it itself would fail: it is in use) and binds the other one as usual.
    @Test func adoptsInheritedSocket() throws {
        let tool = "/usr/bin/systemd-socket-activate"
        guard let binary = posternBinary, FileManager.default.isExecutableFile(atPath: tool) else { return }
        let dir = try makeTempDirectory("activate")
        let inherited = freeLoopbackPort(), own = freeLoopbackPort()
        let config = minimalConfig(dir: dir, servers: [
            "listen 127.0.0.1:\(inherited); protocol imap;",
            "listen 127.0.0.1:\(own); protocol imap;",
        ])
        try config.write(toFile: dir + "/postern.conf", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["-l", "127.0.0.1:\(inherited)", binary, "-p", dir + "/", "-c", dir + "/postern.conf",
                             "-e", dir + "/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            for _ in 0..<250 where process.isRunning { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        // The tool execs Postern on the first connection; that client is then served.
        let first = try #require(RawClient(port: inherited))
        let greeting = first.readLine()
        let log = { (try? String(contentsOfFile: dir + "/error.log", encoding: .utf8)) ?? "" }
        #expect(greeting?.hasPrefix("* OK") == true, "\(log())")
        let second = try #require(RawClient(port: own))
        #expect(second.readLine()?.hasPrefix("* OK") == true)
        #expect(!log().contains("bind()"), "\(log())")
        // The listeners serve from the moment the runtime exists; the main
        // thread logs "start serving" after that, so a loaded run can serve
        // both clients first. Wait (bounded) for the line rather than race it.
        for _ in 0..<500 where !log().contains("start serving: 2 listeners") { usleep(20_000) }
        #expect(log().contains("start serving: 2 listeners"), "\(log())")
    }
}
