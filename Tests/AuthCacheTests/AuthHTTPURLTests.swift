import Testing
@testable import AuthCache

@Suite("auth_http URL")
struct AuthHTTPURLTests {
    /// The directive forms nginx accepts parse to endpoint, URI and Host header.
    @Test(arguments: [
        ("127.0.0.1:9000/auth", AuthHTTPURL.Endpoint.inet(host: "127.0.0.1", port: 9000), "/auth", "127.0.0.1"),
        ("http://auth.example/cgi/auth?x=1", .inet(host: "auth.example", port: 80), "/cgi/auth?x=1", "auth.example"),
        ("localhost", .inet(host: "localhost", port: 80), "/", "localhost"),
        ("localhost:8080", .inet(host: "localhost", port: 8080), "/", "localhost"),
        ("host/a:b", .inet(host: "host", port: 80), "/a:b", "host"),
        ("[::1]:9000/auth", .inet(host: "[::1]", port: 9000), "/auth", "[::1]"),
        ("[::1]", .inet(host: "[::1]", port: 80), "/", "[::1]"),
        ("unix:/run/auth.sock:/auth", .unix(path: "/run/auth.sock"), "/auth", "localhost"),
        ("unix:/run/auth.sock", .unix(path: "/run/auth.sock"), "/", "localhost"),
        ("http://unix:/tmp/a.sock:/x", .unix(path: "/tmp/a.sock"), "/x", "localhost"),
    ])
    func parses(value: String, endpoint: AuthHTTPURL.Endpoint, uri: String, host: String) throws {
        let url = try AuthHTTPURL.parse(value).get()
        #expect(url.endpoint == endpoint)
        #expect(url.uri == uri)
        #expect(url.hostHeader == host)
    }

    /// Bad values give nginx's reasons, quoted as nginx quotes them.
    @Test(arguments: [
        ("host:0", "invalid port in auth_http \"host:0\""),
        ("host:65536/x", "invalid port in auth_http \"host:65536/x\""),
        ("host:/x", "invalid port in auth_http \"host:/x\""),
        (":80", "no host in auth_http \":80\""),
        ("/auth", "no host in auth_http \"/auth\""),
        ("unix:", "no path in the unix domain socket in auth_http \"unix:\""),
        ("[::1", "invalid host in auth_http \"[::1\""),
        ("[::1]x", "invalid host in auth_http \"[::1]x\""),
        ("[nothex]:80", "invalid IPv6 address in auth_http \"[nothex]:80\""),
        ("http://h:x", "invalid port in auth_http \"h:x\""),
    ])
    func refuses(value: String, message: String) {
        switch AuthHTTPURL.parse(value) {
        case .success(let url): Issue.record("accepted \(url)")
        case .failure(let error): #expect(error.description == message)
        }
    }

    /// A unix path longer than sun_path is refused.
    @Test func longUnixPath() {
        let path = "/" + String(repeating: "a", count: 120)
        #expect((try? AuthHTTPURL.parse("unix:" + path).get()) == nil)
    }

    /// The log name is what operators expect.
    @Test func description() throws {
        let inet = try AuthHTTPURL.parse("127.0.0.1:9000/auth").get()
        #expect(inet.description == "127.0.0.1:9000")
        let unix = try AuthHTTPURL.parse("unix:/run/a.sock:/x").get()
        #expect(unix.description == "unix:/run/a.sock")
    }
}
