import Foundation
import Testing
@testable import AuthCache

/// Runs the client against a real HTTP server (Fixtures/auth_stub.py).
@Suite("auth_http client", .serialized)
struct AuthHTTPClientTests {
    private func request(password: String = "hunter2") -> AuthRequest {
        AuthRequest(method: "plain", user: Array("joe user".utf8), password: Array(password.utf8),
                    protocolName: "imap", loginAttempt: 3, clientIP: "192.0.2.1",
                    extraHeaders: [AuthHTTPExtraHeader(name: "X-Auth-Key", value: "k1")])
    }

    private func url(_ stub: AuthStub, uri: String = "/auth") -> AuthHTTPURL {
        AuthHTTPURL(endpoint: .inet(host: "127.0.0.1", port: stub.port), uri: uri)
    }

    private func millis(since start: ContinuousClock.Instant) -> Int {
        let d = ContinuousClock.now - start
        return Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }

    /// An accepting service is asked with nginx's headers in nginx's order, and its answer is decoded.
    @Test func acceptedAndHeadersOnTheWire() throws {
        let stub = try AuthStub(scenario: "accepted")
        let client = AuthHTTPClient()
        let result = client.authenticate(request(), url: url(stub), timeoutMillis: 5000)
        #expect(result == .success(.accepted(server: "127.0.0.1", port: 143, user: nil,
                                             password: Array("backend secret".utf8), cacheTTL: nil)))
        let recorded = try stub.requests()
        try #require(recorded.count == 1)
        #expect(recorded[0].requestLine == "GET /auth HTTP/1.1")
        #expect(recorded[0].headers.map { "\($0.0): \($0.1)" } == [
            "Host: 127.0.0.1",
            "Auth-Method: plain",
            "Auth-User: joe%20user",
            "Auth-Pass: hunter2",
            "Auth-Protocol: imap",
            "Auth-Login-Attempt: 3",
            "Client-IP: 192.0.2.1",
            "X-Auth-Key: k1",
        ])
    }

    /// A rejection with Auth-Wait and Auth-Error-Code comes back as such.
    @Test func rejectedWithWait() throws {
        let stub = try AuthStub(scenario: "rejected")
        let client = AuthHTTPClient()
        #expect(client.authenticate(request(), url: url(stub), timeoutMillis: 5000)
            == .success(.rejected(message: "Invalid login or password", wait: 3, errorCode: "535 5.7.8")))
    }

    /// A service answering garbage is a bad response, reported without the password.
    @Test func garbage() throws {
        let stub = try AuthStub(scenario: "garbage")
        let client = AuthHTTPClient()
        let result = client.authenticate(request(), url: url(stub), timeoutMillis: 5000)
        guard case .failure(let error) = result, case .badResponse = error else {
            Issue.record("expected badResponse, got \(result)")
            return
        }
        #expect(!error.description.contains("hunter2"))
        #expect(error.description.contains("127.0.0.1:\(stub.port)"))
    }

    /// A service slower than the timeout gives timedOut within timeout + small slack.
    @Test func slowServiceTimesOut() throws {
        let stub = try AuthStub(scenario: "slow")
        let client = AuthHTTPClient()
        let start = ContinuousClock.now
        let result = client.authenticate(request(), url: url(stub), timeoutMillis: 400)
        let elapsed = millis(since: start)
        #expect(result == .failure(.timedOut(service: "127.0.0.1:\(stub.port)", afterMillis: 400)))
        // Upper bound far above the timeout but far below "hung": the machine may be busy.
        #expect(elapsed >= 350 && elapsed < 3000, "took \(elapsed) ms")
    }

    /// Nothing listening: connect refused, quickly.
    @Test func downServiceRefusesQuickly() throws {
        let port = closedLoopbackPort()
        let client = AuthHTTPClient()
        let start = ContinuousClock.now
        let result = client.authenticate(request(), url: AuthHTTPURL(endpoint: .inet(host: "127.0.0.1", port: port), uri: "/"),
                                         timeoutMillis: 5000)
        // Well under the 5 s timeout: refused, not timed out.
        #expect(millis(since: start) < 4000)
        guard case .failure(.connectFailed(let service, let cause)) = result else {
            Issue.record("expected connectFailed, got \(result)")
            return
        }
        #expect(service == "127.0.0.1:\(port)")
        #expect(!cause.contains("hunter2"))
    }

    /// Two requests through one client reuse one connection (the stub sees one peer port).
    @Test func keepAlive() throws {
        let stub = try AuthStub(scenario: "accepted")
        let client = AuthHTTPClient()
        var second = request()
        second.loginAttempt = 4
        _ = client.authenticate(request(), url: url(stub), timeoutMillis: 5000)
        _ = client.authenticate(second, url: url(stub), timeoutMillis: 5000)
        let recorded = try stub.requests()
        try #require(recorded.count == 2)
        #expect(recorded[0].peerPort == recorded[1].peerPort)
        #expect(recorded[1].headers.contains { $0 == ("Auth-Login-Attempt", "4") })
    }

    /// A service that closes after each answer (HTTP/1.0, like nginx's peers) still serves every request.
    @Test func serverClosingEachTimeReconnects() throws {
        let stub = try AuthStub(scenario: "close")
        let client = AuthHTTPClient()
        for _ in 0..<3 {
            #expect(client.authenticate(request(), url: url(stub), timeoutMillis: 5000)
                == .success(.accepted(server: "127.0.0.1", port: 110, user: nil, password: nil, cacheTTL: nil)))
        }
        let recorded = try stub.requests()
        #expect(recorded.count == 3)
        #expect(Set(recorded.map(\.peerPort)).count == 3)
    }

    /// A response head over the limit is refused as a bad response.
    @Test func oversizedHead() throws {
        let stub = try AuthStub(scenario: "bighead")
        let client = AuthHTTPClient()
        let result = client.authenticate(request(), url: url(stub), timeoutMillis: 5000)
        #expect(result == .failure(.badResponse(service: "127.0.0.1:\(stub.port)",
                                                cause: AuthResponseHeadError.tooLarge.description)))
    }

    /// A unix-socket auth service is reached with Host: localhost.
    @Test func unixSocket() throws {
        let stub = try AuthStub(scenario: "accepted", unixSocket: true)
        let client = AuthHTTPClient()
        let target = try AuthHTTPURL.parse("unix:\(stub.unixPath!):/unix-auth").get()
        let result = client.authenticate(request(), url: target, timeoutMillis: 5000)
        #expect(result == .success(.accepted(server: "127.0.0.1", port: 143, user: nil,
                                             password: Array("backend secret".utf8), cacheTTL: nil)))
        let recorded = try stub.requests()
        try #require(recorded.count == 1)
        #expect(recorded[0].requestLine == "GET /unix-auth HTTP/1.1")
        #expect(recorded[0].headers.first! == ("Host", "localhost"))
    }

    /// One client can switch between services (inet after unix) without stale options.
    @Test func switchesEndpoints() throws {
        let unixStub = try AuthStub(scenario: "rejected", unixSocket: true)
        let inetStub = try AuthStub(scenario: "accepted")
        let client = AuthHTTPClient()
        let unixURL = try AuthHTTPURL.parse("unix:\(unixStub.unixPath!)").get()
        #expect(client.authenticate(request(), url: unixURL, timeoutMillis: 5000)
            == .success(.rejected(message: "Invalid login or password", wait: 3, errorCode: "535 5.7.8")))
        if case .success(.accepted) = client.authenticate(request(), url: url(inetStub), timeoutMillis: 5000) {
        } else {
            Issue.record("inet request after unix did not reach the inet service")
        }
    }

    /// Auth-Status WAIT repeats the same request after Auth-Wait seconds until an answer comes.
    @Test func followsWait() throws {
        let stub = try AuthStub(scenario: "wait")
        let client = AuthHTTPClient()
        var slept: [Int] = []
        let result = client.authenticateFollowingWait(request(), url: url(stub), timeoutMillis: 5000,
                                                      maxWaitRounds: 5, sleep: { slept.append($0) })
        #expect(result == .success(.accepted(server: "127.0.0.1", port: 143, user: nil, password: nil, cacheTTL: nil)))
        #expect(slept == [1, 1])
        let recorded = try stub.requests()
        #expect(recorded.count == 3)
        #expect(recorded.allSatisfy { $0.headers.contains { $0 == ("Auth-Login-Attempt", "3") } })
    }

    /// Repeats after WAIT are capped; past the cap the client gets a temporary failure.
    @Test func waitRoundsAreCapped() throws {
        let stub = try AuthStub(scenario: "wait")
        let client = AuthHTTPClient()
        let result = client.authenticateFollowingWait(request(), url: url(stub), timeoutMillis: 5000,
                                                      maxWaitRounds: 1, sleep: { _ in })
        #expect(result == .success(.tempFail(reason: "still sent Auth-Status: WAIT after 1 repeats")))
        #expect(try stub.requests().count == 2)
    }

    /// The default sleeper waits the given seconds once (and returns at once for 0).
    @Test func sleepSecondsWaitsOnce() {
        let start = ContinuousClock.now
        sleepSeconds(0)
        sleepSeconds(1)
        let elapsed = millis(since: start)
        #expect(elapsed >= 990 && elapsed < 3000, "took \(elapsed) ms")
    }

    /// Empty values (SMTP without AUTH has no user or password) still reach the wire, as nginx sends them.
    @Test func emptyValuesAreSent() throws {
        let stub = try AuthStub(scenario: "rejected")
        let client = AuthHTTPClient()
        let smtp = AuthRequest(method: "none", user: [], password: [], protocolName: "smtp", clientIP: "127.0.0.1",
                               clientHost: AuthRequest.hostUnavailable, smtpHelo: Array("h.example".utf8),
                               extraHeaders: [AuthHTTPExtraHeader(name: "X-Empty", value: "")])
        _ = client.authenticate(smtp, url: url(stub), timeoutMillis: 5000)
        let recorded = try stub.requests()
        try #require(recorded.count == 1)
        #expect(recorded[0].headers.map { "\($0.0): \($0.1)" } == [
            "Host: 127.0.0.1", "Auth-Method: none", "Auth-User: ", "Auth-Pass: ", "Auth-Protocol: smtp",
            "Auth-Login-Attempt: 1", "Client-IP: 127.0.0.1", "Client-Host: [UNAVAILABLE]",
            "Auth-SMTP-Helo: h.example", "Auth-SMTP-From: ", "Auth-SMTP-To: ", "X-Empty: ",
        ])
    }
}
