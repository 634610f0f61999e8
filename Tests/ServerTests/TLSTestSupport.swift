import Foundation
import Glibc
import Synchronization
@testable import Server

/// The throwaway PKI from scripts/gen-test-certs.sh, generated once per test process.
enum TLSTestCerts {
    static let directory: String = {
        signal(SIGPIPE, SIG_IGN)
        // scripts/test.sh makes them before the run.
        if let made = ProcessInfo.processInfo.environment["POSTERN_TEST_CERTS"],
           FileManager.default.fileExists(atPath: made + "/.complete") {
            return made
        }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("postern-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repo.appendingPathComponent("scripts/gen-test-certs.sh").path, dir]
        try! process.run()
        process.waitUntilExit()
        precondition(process.terminationStatus == 0, "gen-test-certs.sh failed")
        return dir
    }()

    static func path(_ name: String) -> String { directory + "/" + name }
}

/// Server settings with the RSA mail certificate (and others given).
func tlsServerSettings(_ pairs: [(String, String)] = [("mail-rsa.pem", "mail-rsa.key")], _ edit: (inout SSLSettings) -> Void = { _ in }) -> SSLSettings {
    var s = SSLSettings()
    s.certificates = pairs.map { TLSTestCerts.path($0.0) }
    s.certificateKeys = pairs.map { TLSTestCerts.path($0.1) }
    edit(&s)
    return s
}

func tlsContextSet(_ settings: SSLSettings) throws -> TLSServerContextSet {
    TLSServerContextSet(default: try TLSServerContext(settings: settings))
}

/// A client that verifies nothing (the default proxy_ssl_verify off).
func tlsClient(_ edit: (inout TLSClientSettings) -> Void = { _ in }) throws -> TLSClientContext {
    var s = TLSClientSettings()
    edit(&s)
    return try TLSClientContext(settings: s)
}

struct TLSHandshakeResult {
    let server: Result<TLSStream, TLSError>
    let client: Result<TLSStream, TLSError>
}

/// Handshakes both ends over a unix socket pair: the server on its own thread.
func tlsHandshake(server: TLSServerContextSet, client: TLSClientContext, serverName: String? = nil,
                  session: TLSSession? = nil, millis: Int = 5000) throws -> TLSHandshakeResult {
    let (a, b) = try Socket.pair()
    let box = Mutex<Result<TLSStream, TLSError>?>(nil)
    let thread = startThread(name: "tls-accept") {
        let r = Result { () throws(TLSError) -> TLSStream in try TLSStream.accept(a, contexts: server, deadline: .after(millis: millis)) }
        box.withLock { $0 = r }
    }
    let clientResult = Result { () throws(TLSError) -> TLSStream in
        try TLSStream.connect(b, context: client, serverName: serverName, deadline: .after(millis: millis), session: session)
    }
    // A failed client closed its socket, so the server thread ends too.
    thread.join()
    return TLSHandshakeResult(server: box.withLock { $0! }, client: clientResult)
}

/// Both streams of a successful handshake, or a thrown error.
func tlsConnected(server: TLSServerContextSet, client: TLSClientContext, serverName: String? = nil,
                  session: TLSSession? = nil) throws -> (server: TLSStream, client: TLSStream) {
    let r = try tlsHandshake(server: server, client: client, serverName: serverName, session: session)
    return (try r.server.get(), try r.client.get())
}

/// Runs a command, returning its stdout (stderr discarded).
func runCommand(_ args: [String], stdin: Data? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = args
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

extension Result {
    var failure: Failure? { if case .failure(let e) = self { return e }; return nil }
}

/// Runs `openssl s_client` with `arguments` against a loopback listener whose
/// one connection is accepted with `set`; the server greets with "hello" and
/// waits for the client to go. Returns s_client's output and the accept result.
func sClient(_ set: TLSServerContextSet, _ arguments: [String]) throws -> (output: String, server: Result<TLSStream, TLSError>?) {
    let listener = try Listener.open(address: .ip("127.0.0.1", port: 0)!)
    defer { listener.close() }
    guard let port = listener.address.port else { throw TLSError.closed }
    let box = Mutex<Result<TLSStream, TLSError>?>(nil)
    let server = startThread(name: "tls-sclient") {
        guard (try? listener.socket.waitFor(events: Int16(POLLIN), deadline: .after(millis: 10_000))) == true else { return }
        var storage = sockaddr_storage(); var len = socklen_t(0)
        guard let fd = try? sysAccept4(listener.socket.fd, storage: &storage, length: &len, flags: cnetSockFlags) else { return }
        let r = Result { () throws(TLSError) -> TLSStream in try TLSStream.accept(Socket(adopting: fd), contexts: set, deadline: .after(millis: 10_000)) }
        if case .success(let s) = r {
            try? s.writeAll(Array("hello\n".utf8), deadline: .after(millis: 2000))
            _ = try? s.readSome(max: 10, deadline: .after(millis: 5000))
            s.close()
        }
        box.withLock { $0 = r }
    }
    let r = try runCommand(["openssl", "s_client", "-connect", "127.0.0.1:\(port)"] + arguments)
    server.join()
    return (r.output, box.withLock { $0 })
}
