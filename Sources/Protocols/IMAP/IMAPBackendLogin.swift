/// What the backend login script asks its driver to do.
public enum BackendLoginAction: Sendable, Equatable {
    /// Write these bytes to the backend.
    case sendToBackend([UInt8])
    /// Logged in. Send `clientReply` (the backend's untagged lines and its
    /// tagged OK, as nginx relays them) to the client, then relay; `leftover`
    /// is what the backend sent after that and goes to the client too.
    case loggedIn(clientReply: [UInt8], leftover: [UInt8])
    /// The login failed; the driver sends the client a reply and closes:
    /// - `.authFailedReplied(bytes)`: `proxy_pass_error_message on`; send
    ///   `bytes` (the backend's own lines, as nginx does), then close.
    /// - `.authFailedNotReplied` or `.protocolViolation`: send
    ///   `IMAPReplies.internalServerError`, then close.
    /// A backend that closes or times out is the driver's `.tempFail`, also
    /// answered with `IMAPReplies.internalServerError`.
    ///
    /// After `.loggedIn` or `.failed` the script takes no more input: later
    /// backend bytes belong to the relay.
    case failed(UpstreamError)
}

/// Literals a backend takes without a continuation request (RFC 7888).
public enum NonSynchronizingLiterals: Sendable, Equatable {
    case none
    /// LITERAL+: any size.
    case anySize
    /// LITERAL-: up to 4096 bytes.
    case upTo4096
}

/// The script nginx's ngx_mail_proxy_module runs against an IMAP backend once
/// the auth service has accepted a login:
///
///     S: * OK ...                      (greeting)
///     C: <tag> LOGIN {<user length>}
///     S: + ...
///     C: <user> {<password length>}
///     S: + ...
///     C: <password>
///     S: [* CAPABILITY ...]            (sent by some servers, relayed)
///     S: <tag> OK ...
///
/// User and password travel only as literals (RFC 3501 §4.3), so no byte in
/// them (quote, CRLF, "{5}") can end the string early or start a command.
/// The client's tag is reused, as nginx does, so the tagged OK can be
/// relayed to the client unchanged.
///
/// Unlike nginx, when the greeting lists LITERAL+ (or LITERAL- and both
/// literals fit in 4096 bytes, RFC 7888), the literals are non-synchronizing
/// ("{3+}") and the whole LOGIN goes in one write: one round trip to the
/// backend instead of three, and two fewer waits of the session thread.
public struct IMAPBackendLogin: Sendable {
    private enum Step: String, Sendable {
        case greeting
        case userContinuation
        case passwordContinuation
        case taggedReply
        case done
    }

    private let tag: [UInt8]
    private let user: [UInt8]
    private let password: [UInt8]
    private let passErrorMessage: Bool
    private var lines: LineBuffer
    private var step: Step = .greeting
    /// Untagged lines seen before the tagged reply, relayed to the client.
    private var untagged: [UInt8] = []
    /// LOGIN went in one write with non-synchronizing literals.
    private var sentWithoutWaiting = false
    /// Bound on untagged lines before the tagged reply: a backend that
    /// streams untagged data forever is not logging us in.
    private let maxUntaggedLines = 16

    /// - Parameters:
    ///   - tag: the client's tag for LOGIN/AUTHENTICATE, without the space.
    ///   - passErrorMessage: `proxy_pass_error_message`.
    ///   - maxLine: the longest backend line accepted (nginx: `proxy_buffer`).
    public init(tag: [UInt8], user: [UInt8], password: [UInt8], passErrorMessage: Bool, maxLine: Int = 8192) {
        self.tag = tag
        self.user = user
        self.password = password
        self.passErrorMessage = passErrorMessage
        self.lines = LineBuffer(limit: max(16, maxLine))
    }

    /// Feeds backend bytes.
    public mutating func receive(_ bytes: some Collection<UInt8>) -> [BackendLoginAction] {
        guard step != .done else { return [] }
        lines.append(bytes)
        var actions: [BackendLoginAction] = []
        // Each round takes a line off the buffer or returns.
        while step != .done {
            switch lines.nextLine() {
            case .needMoreBytes:
                return actions
            case .lineTooLong:
                step = .done
                actions.append(.failed(.protocolViolation("upstream sent too long response line")))
                return actions
            case .line(let line):
                actions += handle(line)
            }
        }
        return actions
    }

    private mutating func handle(_ line: [UInt8]) -> [BackendLoginAction] {
        switch step {
        case .greeting:
            // nginx: the greeting must start "* OK" (a PREAUTH or BYE is refused).
            guard line.starts(with: Array("* OK".utf8)) else { return refuse(line) }
            let literals = Self.nonSynchronizingLiterals(inGreeting: line)
            if literals == .anySize || (literals == .upTo4096 && user.count <= 4096 && password.count <= 4096) {
                step = .taggedReply
                sentWithoutWaiting = true
                return [.sendToBackend(tag + Array(" LOGIN {\(user.count)+}\r\n".utf8) + user
                                       + Array(" {\(password.count)+}\r\n".utf8) + password + Array("\r\n".utf8))]
            }
            step = .userContinuation
            return [.sendToBackend(tag + Array(" LOGIN {\(user.count)}\r\n".utf8))]
        case .userContinuation:
            guard line.first == UInt8(ascii: "+") else { return refuse(line) }
            step = .passwordContinuation
            return [.sendToBackend(user + Array(" {\(password.count)}\r\n".utf8))]
        case .passwordContinuation:
            guard line.first == UInt8(ascii: "+") else { return refuse(line) }
            step = .taggedReply
            return [.sendToBackend(password + Array("\r\n".utf8))]
        case .taggedReply:
            // A continuation request for a literal that needed none: the
            // backend waits for nothing, so it is skipped, not relayed.
            if sentWithoutWaiting && line.first == UInt8(ascii: "+") { return [] }
            // draft-crispin-imapv: an untagged CAPABILITY may precede the
            // tagged reply (SmarterMail, Gmail); current nginx relays it
            // (1.22 still refused it as an invalid response).
            if line.starts(with: Array("* ".utf8)) {
                untagged += line + Array("\r\n".utf8)
                if untagged.count > lines.limit * maxUntaggedLines {
                    step = .done
                    return [.failed(.protocolViolation("upstream sent too many untagged lines"))]
                }
                return []
            }
            guard line.starts(with: tag + Array(" OK".utf8)) else { return refuse(line) }
            step = .done
            let reply = untagged + line + Array("\r\n".utf8)
            return [.loggedIn(clientReply: reply, leftover: lines.takeAll())]
        case .done:
            return []
        }
    }

    /// What a greeting's "[CAPABILITY ...]" response code says of literals
    /// that need no continuation. Scanned in place, with no string made:
    /// it runs on every login (a set of upper-cased names cost ~23k
    /// instructions a login in bench/profile.sh).
    public static func nonSynchronizingLiterals(inGreeting line: [UInt8]) -> NonSynchronizingLiterals {
        let code = capabilityCode
        guard line.count > code.count else { return .none }
        for i in 0..<code.count where asciiUpper(line[i]) != code[i] { return .none }
        let close = UInt8(ascii: "]"), space = UInt8(ascii: " ")
        var found = NonSynchronizingLiterals.none
        var start = code.count
        while start < line.count && line[start] != close {
            var end = start
            while end < line.count && line[end] != space && line[end] != close { end += 1 }
            if end - start == 8 && (0..<7).allSatisfy({ asciiUpper(line[start + $0]) == literalName[$0] }) {
                if line[start + 7] == UInt8(ascii: "+") { found = .anySize }
                if line[start + 7] == UInt8(ascii: "-") && found == .none { found = .upTo4096 }
            }
            start = end < line.count && line[end] == space ? end + 1 : end
        }
        // No closing bracket: not a response code.
        return start < line.count ? found : .none
    }

    private static let capabilityCode = Array("* OK [CAPABILITY ".utf8)
    private static let literalName = Array("LITERAL".utf8)

    /// nginx: "upstream sent invalid response". With proxy_pass_error_message
    /// the client gets the backend's lines; without, an internal error.
    private mutating func refuse(_ line: [UInt8]) -> [BackendLoginAction] {
        step = .done
        if passErrorMessage {
            return [.failed(.authFailedReplied(untagged + line + Array("\r\n".utf8)))]
        }
        return [.failed(.authFailedNotReplied)]
    }
}
