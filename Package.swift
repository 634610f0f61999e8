// swift-tools-version:6.0
import PackageDescription

// Release builds let the optimizer see across our own modules: the protocol
// state machines and the auth client are generic over byte collections, and
// without this every call from Server ran their unspecialized forms (witness
// tables per byte, measured with bench/profile.sh).
let crossModule: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "Postern",
    products: [
        .executable(name: "postern", targets: ["postern"]),
    ],
    targets: [
        // C libraries through module maps; static-inline shims only for macros and variadics.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // GNU-only libc calls (accept4, splice, pipe2, ...) hidden by the Glibc module.
        .target(name: "CNetShims"),
        // glibc's libresolv: DNS message building and parsing for the resolver.
        .systemLibrary(name: "CResolv"),

        // Pure protocol code: no sockets, clocks or threads.
        .target(name: "Protocols", swiftSettings: crossModule),
        // auth_http client and (later) the SQLite cache.
        .target(name: "AuthCache", dependencies: ["CSQLite", "COpenSSL"], swiftSettings: crossModule),
        // Config, CLI, listeners, sessions, relay, TLS, logging.
        .target(name: "Server", dependencies: ["Protocols", "AuthCache", "COpenSSL", "CNetShims", "CResolv"],
                swiftSettings: crossModule),
        .executableTarget(name: "postern", dependencies: ["Server"]),

        .testTarget(name: "ProtocolsTests", dependencies: ["Protocols"]),
        .testTarget(name: "AuthCacheTests", dependencies: ["AuthCache"], exclude: ["Fixtures"]),
        // Helpers every test module shares (they run in one process): free loopback ports.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Protocols", "AuthCache", "TestSupport"]),
        // Runs the built binary against real Dovecot and an auth service; finds fixtures by #filePath.
        .testTarget(name: "IntegrationTests", dependencies: ["TestSupport"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
