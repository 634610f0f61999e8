/// Everything the SMTP backend script needs, gathered by the driver from the
/// session, the auth service's answer and the configuration.
public struct SMTPBackendLoginParameters: Sendable, Equatable {
    /// `server_name`, sent in Postern's own HELO/EHLO.
    public var serverName: String
    /// `xclient` (nginx default on): tell the backend who the client is.
    public var xclient: Bool
    /// `proxy_smtp_auth`: log in to the backend with AUTH PLAIN.
    public var smtpAuth: Bool
    /// The session's `helo`, `esmtp`, `mailFrom`, `rcptTo`.
    public var clientHelo: [UInt8]?
    public var esmtp: Bool
    public var mailFrom: [UInt8]?
    public var rcptTo: [UInt8]?
    /// True for `smtp_auth none` (the session authenticated with method `.none`).
    public var authNone: Bool
    /// The login and password (Auth-User / Auth-Pass when the auth service sent them).
    public var login: [UInt8]
    public var password: [UInt8]
    /// The client's address as text, and whether it is IPv6 (XCLIENT ADDR=IPV6:...).
    public var clientAddress: String
    public var clientAddressIsIPv6: Bool
    /// The client's validated host name, or "[UNAVAILABLE]" / "[TEMPUNAVAIL]" as nginx sends.
    public var clientHostname: [UInt8]
    public var passErrorMessage: Bool

    public init(
        serverName: String, xclient: Bool = true, smtpAuth: Bool = false, clientHelo: [UInt8]? = nil,
        esmtp: Bool = false, mailFrom: [UInt8]? = nil, rcptTo: [UInt8]? = nil, authNone: Bool = false,
        login: [UInt8] = [], password: [UInt8] = [], clientAddress: String, clientAddressIsIPv6: Bool = false,
        clientHostname: [UInt8] = Array("[UNAVAILABLE]".utf8), passErrorMessage: Bool = false
    ) {
        self.serverName = serverName
        self.xclient = xclient
        self.smtpAuth = smtpAuth
        self.clientHelo = clientHelo
        self.esmtp = esmtp
        self.mailFrom = mailFrom
        self.rcptTo = rcptTo
        self.authNone = authNone
        self.login = login
        self.password = password
        self.clientAddress = clientAddress
        self.clientAddressIsIPv6 = clientAddressIsIPv6
        self.clientHostname = clientHostname
        self.passErrorMessage = passErrorMessage
    }
}

/// The script nginx's ngx_mail_proxy_module runs against an SMTP backend.
///
///     S: 220 ...
///     C: EHLO <server_name>          (HELO if the client said HELO and no XCLIENT)
///     S: 250 ...
///     C: XCLIENT ADDR=<ip> [LOGIN=<xtext>] NAME=<xtext>     (xclient on)
///     S: 220/250 ...
///     C: EHLO|HELO <client's helo>   (when the client sent one)
///     S: 250 ...
///     C: AUTH PLAIN <base64>          (proxy_smtp_auth on)
///     S: 235 ...
///   or, for smtp_auth none:
///     C: MAIL FROM:<...>  / S: 250  /  C: RCPT TO:<...>  / S: (relayed)
///
/// The client then gets "235 2.0.0 OK" (or, for `none`, the backend's
/// answer to RCPT TO). Values that reach the backend raw (HELO argument,
/// MAIL/RCPT lines) are refused if they hold CR, LF or NUL; the login and
/// host name travel as xtext.
public struct SMTPBackendLogin: Sendable {
    /// What the script is waiting for; named after the command it sends next,
    /// as nginx names its states.
    private enum Step: String, Sendable {
        case greeting
        case heloReplyThenXclient, heloReplyThenFrom, heloReplyThenAuth, heloReplyDone
        case xclientReplyThenHelo, xclientReplyThenFrom, xclientReplyThenAuth, xclientReplyDone
        case authReply, fromReply, rcptReply
        case done
    }

    private let p: SMTPBackendLoginParameters
    private var lines: LineBuffer
    private var step: Step = .greeting
    /// Lines of a multi-line reply read so far ("250-...").
    private var reply: [UInt8] = []

    public init(_ parameters: SMTPBackendLoginParameters, maxLine: Int = 8192) {
        self.p = parameters
        self.lines = LineBuffer(limit: max(16, maxLine))
    }

    /// The XCLIENT command nginx sends (Postfix XCLIENT_README).
    public static func xclientCommand(_ p: SMTPBackendLoginParameters) -> [UInt8] {
        var line = Array("XCLIENT ADDR=".utf8)
        if p.clientAddressIsIPv6 { line += Array("IPV6:".utf8) }
        line += Xtext.encode(Array(p.clientAddress.utf8))
        if !p.login.isEmpty && !p.smtpAuth {
            line += Array(" LOGIN=".utf8) + Xtext.encode(p.login)
        }
        line += Array(" NAME=".utf8) + Xtext.encode(p.clientHostname) + [0x0D, 0x0A]
        return line
    }

    public mutating func receive(_ bytes: some Collection<UInt8>) -> [BackendLoginAction] {
        guard step != .done else { return [] }
        lines.append(bytes)
        var actions: [BackendLoginAction] = []
        while step != .done {
            switch lines.nextLine() {
            case .needMoreBytes:
                return actions
            case .lineTooLong:
                step = .done
                actions.append(.failed(.protocolViolation("upstream sent too long response line")))
                return actions
            case .line(let line):
                reply += line + [0x0D, 0x0A]
                // RFC 5321 §4.2.1: "250-" continues a reply, "250 " ends it.
                if line.count >= 4 && line[3] == UInt8(ascii: "-") { continue }
                let whole = reply
                reply = []
                actions += handle(whole)
            }
        }
        return actions
    }

    private func code(_ reply: [UInt8]) -> String {
        String(decoding: reply.prefix(3), as: UTF8.self)
    }

    private mutating func handle(_ whole: [UInt8]) -> [BackendLoginAction] {
        let code = code(whole)
        let expected: Set<String>
        switch step {
        case .greeting: expected = ["220"]
        case .heloReplyThenXclient, .heloReplyThenFrom, .heloReplyThenAuth, .heloReplyDone, .fromReply:
            expected = ["250"]
        case .xclientReplyThenHelo, .xclientReplyThenFrom, .xclientReplyThenAuth, .xclientReplyDone:
            expected = ["220", "250"]
        case .authReply: expected = ["235"]
        case .rcptReply: expected = []   // nginx relays whatever the backend answers to RCPT
        case .done: return []
        }
        guard expected.isEmpty || expected.contains(code) else { return refuse(whole) }

        switch step {
        case .greeting:
            let verb = p.esmtp || p.xclient ? "EHLO " : "HELO "
            step = p.xclient ? .heloReplyThenXclient : afterHelo()
            return [.sendToBackend(Array((verb + p.serverName + "\r\n").utf8))]
        case .heloReplyThenXclient:
            if p.clientHelo != nil { step = .xclientReplyThenHelo }
            else { step = p.authNone ? .xclientReplyThenFrom : p.smtpAuth ? .xclientReplyThenAuth : .xclientReplyDone }
            return [.sendToBackend(Self.xclientCommand(p))]
        case .xclientReplyThenHelo:
            let helo = p.clientHelo ?? []
            guard Self.isSafe(helo) else { return unsafe() }
            step = afterHelo()
            return [.sendToBackend(Array((p.esmtp ? "EHLO " : "HELO ").utf8) + helo + [0x0D, 0x0A])]
        case .heloReplyThenAuth, .xclientReplyThenAuth:
            step = .authReply
            let plain = [0] + p.login + [0] + p.password
            return [.sendToBackend(Array("AUTH PLAIN ".utf8) + Base64.encode(plain) + [0x0D, 0x0A])]
        case .heloReplyThenFrom, .xclientReplyThenFrom:
            let from = p.mailFrom ?? []
            guard !from.isEmpty, Self.isSafe(from) else { return unsafe() }
            step = .fromReply
            return [.sendToBackend(from + [0x0D, 0x0A])]
        case .fromReply:
            let to = p.rcptTo ?? []
            guard !to.isEmpty, Self.isSafe(to) else { return unsafe() }
            step = .rcptReply
            return [.sendToBackend(to + [0x0D, 0x0A])]
        case .heloReplyDone, .xclientReplyDone, .authReply:
            step = .done
            return [.loggedIn(clientReply: SMTPReplies.authSucceeded, leftover: lines.takeAll())]
        case .rcptReply:
            step = .done
            return [.loggedIn(clientReply: whole, leftover: lines.takeAll())]
        case .done:
            return []
        }
    }

    /// Where to go after the reply to a HELO/EHLO.
    private func afterHelo() -> Step {
        p.authNone ? .heloReplyThenFrom : p.smtpAuth ? .heloReplyThenAuth : .heloReplyDone
    }

    static func isSafe(_ bytes: [UInt8]) -> Bool {
        !bytes.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 })
    }

    private mutating func unsafe() -> [BackendLoginAction] {
        step = .done
        return [.failed(.protocolViolation("HELO, MAIL or RCPT holds CR, LF or NUL"))]
    }

    private mutating func refuse(_ whole: [UInt8]) -> [BackendLoginAction] {
        step = .done
        if p.passErrorMessage { return [.failed(.authFailedReplied(whole))] }
        return [.failed(.authFailedNotReplied)]
    }
}
