import Testing
@testable import AuthCache

@Suite("auth_http response headers")
struct AuthResponseTests {
    private func parse(_ headers: [(String, String)]) -> AuthResponse {
        parseAuthResponse(status: 200, headers: headers)
    }

    /// OK with server and port accepts; Auth-User/Auth-Pass override byte for byte (no unescaping, as nginx 1.22).
    @Test func acceptedWithOverrides() {
        #expect(parse([("Auth-Status", "OK"), ("Auth-Server", "192.0.2.10"), ("Auth-Port", "143"),
                       ("Auth-User", "joe%40example"), ("Auth-Pass", "se cret")])
            == .accepted(server: "192.0.2.10", port: 143, user: Array("joe%40example".utf8),
                         password: Array("se cret".utf8), cacheTTL: nil))
    }

    /// Header names match in any case; IPv6 servers are accepted; Auth-Cache-TTL is read.
    @Test func caseInsensitiveNamesIPv6AndCacheTTL() {
        #expect(parse([("auth-status", "OK"), ("AUTH-SERVER", "2001:db8::1"), ("auth-port", "993"),
                       ("Auth-Cache-TTL", "300")])
            == .accepted(server: "2001:db8::1", port: 993, user: nil, password: nil, cacheTTL: 300))
    }

    /// A rejection carries the text, the wait and the SMTP code; Auth-Wait 0 or garbage means close at once.
    @Test func rejected() {
        #expect(parse([("Auth-Status", "Invalid login or password"), ("Auth-Wait", "3"),
                       ("Auth-Error-Code", "535 5.7.8")])
            == .rejected(message: "Invalid login or password", wait: 3, errorCode: "535 5.7.8"))
        #expect(parse([("Auth-Status", "No"), ("Auth-Wait", "0")]) == .rejected(message: "No", wait: nil, errorCode: nil))
        #expect(parse([("Auth-Status", "No"), ("Auth-Wait", "-1")]) == .rejected(message: "No", wait: nil, errorCode: nil))
        #expect(parse([("Auth-Status", "No"), ("Auth-Wait", "2x")]) == .rejected(message: "No", wait: nil, errorCode: nil))
    }

    /// Status values are case-sensitive as in nginx: "ok" is rejection text; a rejection wins over OK.
    @Test func statusIsCaseSensitiveAndRejectionWins() {
        #expect(parse([("Auth-Status", "ok"), ("Auth-Server", "1.2.3.4"), ("Auth-Port", "1")])
            == .rejected(message: "ok", wait: nil, errorCode: nil))
        #expect(parse([("Auth-Status", "Bad"), ("Auth-Status", "OK"), ("Auth-Server", "1.2.3.4"), ("Auth-Port", "1")])
            == .rejected(message: "Bad", wait: nil, errorCode: nil))
    }

    /// Auth-Status WAIT asks to repeat the request after Auth-Wait seconds (0 when absent).
    @Test func waitMeansRetry() {
        #expect(parse([("Auth-Status", "WAIT"), ("Auth-Wait", "2")]) == .retry(afterSeconds: 2))
        #expect(parse([("Auth-Status", "WAIT")]) == .retry(afterSeconds: 0))
    }

    /// Missing status, server or port, or a bad address or port, is a temporary failure.
    @Test func incompleteOrInvalidAcceptanceIsTempFail() {
        #expect(parse([]) == .tempFail(reason: "sent no Auth-Status"))
        #expect(parse([("Auth-Server", "1.2.3.4"), ("Auth-Port", "143")]) == .tempFail(reason: "sent no Auth-Status"))
        #expect(parse([("Auth-Status", "OK"), ("Auth-Port", "143")]) == .tempFail(reason: "did not send server or port"))
        #expect(parse([("Auth-Status", "OK"), ("Auth-Server", "1.2.3.4")]) == .tempFail(reason: "did not send server or port"))
        #expect(parse([("Auth-Status", "OK"), ("Auth-Server", "1.2.3.4"), ("Auth-Port", "")])
            == .tempFail(reason: "did not send server or port"))
        for server in ["mail.example", "[::1]", "1.2.3", "1.2.3.256", "1.2.3.4.5", "::1::2", "1:2:3:4:5:6:7:8:9", "1.2.3.4 "] {
            #expect(parse([("Auth-Status", "OK"), ("Auth-Server", server), ("Auth-Port", "143")])
                == .tempFail(reason: "sent invalid server address:\"\(server)\""), "\(server)")
        }
        for port in ["0", "65536", "14a", "-1", "+143", " 143x", "99999999999999999999999"] {
            if case .tempFail(let reason) = parse([("Auth-Status", "OK"), ("Auth-Server", "1.2.3.4"), ("Auth-Port", port)]) {
                #expect(reason.hasPrefix("sent invalid server port"), "\(port)")
            } else {
                Issue.record("port \(port) accepted")
            }
        }
    }

    /// Address literals nginx accepts are accepted.
    @Test func validAddressLiterals() {
        for server in ["127.0.0.1", "010.0.0.1", "::1", "::", "fe80::1:2", "1:2:3:4:5:6:7:8", "::ffff:192.0.2.1", "1::"] {
            #expect(isIPAddressLiteral(Array(server.utf8)), "\(server)")
        }
    }

    /// Overlong values are refused, never truncated.
    @Test func overlongValues() {
        let long = String(repeating: "x", count: 2000)
        let base: [(String, String)] = [("Auth-Status", "OK"), ("Auth-Server", "1.2.3.4"), ("Auth-Port", "1")]
        #expect(parse(base + [("Auth-Pass", long)]) == .tempFail(reason: "sent Auth-Pass longer than 1024 bytes"))
        #expect(parse(base + [("Auth-User", long)]) == .tempFail(reason: "sent Auth-User longer than 1024 bytes"))
        #expect(parse([("Auth-Status", long)]) == .tempFail(reason: "sent Auth-Status longer than 512 bytes"))
    }

    /// IMAP/POP3 need a password for the backend: APOP, CRAM-MD5 and EXTERNAL logins need Auth-Pass.
    @Test func passwordRequirement() {
        let ok = AuthResponse.accepted(server: "1.2.3.4", port: 110, user: nil, password: nil, cacheTTL: nil)
        var r = AuthRequest(method: "apop", user: [], password: [], protocolName: "pop3", clientIP: "1.1.1.1")
        #expect(checkAuthResponse(ok, for: r) == .tempFail(reason: "did not send password"))
        r.method = "plain"
        #expect(checkAuthResponse(ok, for: r) == ok)
        r.method = "external"
        r.protocolName = "smtp"
        #expect(checkAuthResponse(ok, for: r) == ok)
    }

    /// A temporary failure's log line names the service like nginx does.
    @Test func logLine() throws {
        let url = try AuthHTTPURL.parse("127.0.0.1:9000/auth").get()
        #expect(authHTTPLogLine(service: url, reason: "did not send server or port")
            == "auth http server 127.0.0.1:9000 did not send server or port")
    }

    /// The description of an accepted response never shows the password.
    @Test func descriptionHidesPassword() {
        let r = AuthResponse.accepted(server: "1.2.3.4", port: 1, user: Array("u".utf8), password: Array("hunter2".utf8), cacheTTL: 5)
        #expect(!r.description.contains("hunter2"))
    }

    // MARK: response head (status line and header lines)

    /// A normal head parses into status and headers in order, trailing spaces trimmed.
    @Test func headParses() throws {
        let raw = "HTTP/1.1 200 OK\r\nAuth-Status: OK  \r\nAuth-Server:   127.0.0.1\r\nX-Empty\r\nAuth-Pass: a b\tc\r\n\r\nbody"
        let head = try parseAuthResponseHead(Array(raw.utf8)).get()
        #expect(head.status == 200)
        #expect(head.headers == [AuthHTTPHeaderField("Auth-Status", "OK"), AuthHTTPHeaderField("Auth-Server", "127.0.0.1"),
                                 AuthHTTPHeaderField("X-Empty", ""), AuthHTTPHeaderField("Auth-Pass", "a b\tc")])
    }

    /// Bare LF line ends are accepted; a head without status line is read as headers (status 0), as nginx does.
    @Test func headLenient() throws {
        let head = try parseAuthResponseHead(Array("Auth-Status: OK\n\n".utf8)).get()
        #expect(head == AuthResponseHead(status: 0, headers: [AuthHTTPHeaderField("Auth-Status", "OK")]))
    }

    /// Garbage, bad names, folded lines, stray CR and truncation are refused.
    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\n Auth-Status: OK\r\n\r\n", AuthResponseHeadError.invalidHeader),
        ("HTTP/1.1 200 OK\r\nAuth_Status: OK\r\n\r\n", .invalidHeader),
        ("HTTP/1.1 200 OK\r\n-Auth: OK\r\n\r\n", .invalidHeader),
        ("HTTP/1.1 200 OK\r\nAuth-Status: OK\rX\r\n\r\n", .invalidHeader),
        ("\u{0}\u{1} garbage\r\n\r\n", .invalidHeader),
        ("HTTP/1.1 200 OK\r\nAuth-Status: OK\r\n", .incomplete),
        ("HTTP/1.1 200 OK", .incomplete),
        ("", .incomplete),
    ])
    func headRefused(raw: String, error: AuthResponseHeadError) {
        #expect(parseAuthResponseHead(Array(raw.utf8)) == .failure(error))
    }

    /// A head over the limit is refused.
    @Test func headTooLarge() {
        let raw = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n"
        #expect(parseAuthResponseHead(Array(raw.utf8)) == .failure(.tooLarge))
    }
}
