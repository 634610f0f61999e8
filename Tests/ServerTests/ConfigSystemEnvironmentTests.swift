import Foundation
import Testing
@testable import Server

/// Real files: the system environment reads, globs (sorted) and reports a
/// missing include with errno, exactly as nginx.
@Test func systemEnvironmentReadsFilesAndGlobs() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("postern-config-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir.appendingPathComponent("conf.d"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try "server { listen 127.0.0.1:1110; protocol pop3; }\n".write(to: dir.appendingPathComponent("conf.d/b.conf"), atomically: true, encoding: .utf8)
    try "server { listen 127.0.0.1:1143; protocol imap; }\n".write(to: dir.appendingPathComponent("conf.d/a.conf"), atomically: true, encoding: .utf8)
    try "mail { auth_http 127.0.0.1:9/a; include conf.d/*.conf; }\n".write(to: dir.appendingPathComponent("postern.conf"), atomically: true, encoding: .utf8)

    let result = parseConfig(prefix: dir.path, configFile: "postern.conf", environment: SystemConfigEnvironment())
    let config = try result.get()
    #expect(config.servers.map(\.protocolName) == [.imap, .pop3])
    #expect(!SystemConfigEnvironment().hostname.isEmpty)
    #expect(SystemConfigEnvironment().resolveHost("localhost").isEmpty == false)

    try "include nothere.conf;\n".write(to: dir.appendingPathComponent("postern.conf"), atomically: true, encoding: .utf8)
    guard case .failure(let list) = parseConfig(prefix: dir.path, configFile: "postern.conf", environment: SystemConfigEnvironment()) else {
        Issue.record("expected failure"); return
    }
    #expect(list.description == "open() \"\(dir.path)/nothere.conf\" failed (2: No such file or directory) in \(dir.path)/postern.conf:1")
}
