/// The script nginx's ngx_mail_proxy_module runs against a POP3 backend:
///
///     S: +OK ...            (greeting)
///     C: USER <login>
///     S: +OK ...
///     C: PASS <password>
///     S: +OK ...            (relayed to the client)
///
/// POP3 has no literals, so a login or password holding CR, LF or NUL
/// (possible through SASL PLAIN or an Auth-User/Auth-Pass header) could
/// smuggle a second command to the backend. nginx sends it anyway; we refuse
/// before sending anything.
public struct POP3BackendLogin: Sendable {
    private enum Step: Sendable {
        case greeting, userReply, passReply, done
    }

    private let user: [UInt8]
    private let password: [UInt8]
    private let passErrorMessage: Bool
    private var lines: LineBuffer
    private var step: Step = .greeting

    public init(user: [UInt8], password: [UInt8], passErrorMessage: Bool, maxLine: Int = 8192) {
        self.user = user
        self.password = password
        self.passErrorMessage = passErrorMessage
        self.lines = LineBuffer(limit: max(16, maxLine))
    }

    /// True when `bytes` can travel inside one POP3 command line.
    public static func isSafeArgument(_ bytes: [UInt8]) -> Bool {
        !bytes.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 })
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
                actions += handle(line)
            }
        }
        return actions
    }

    private mutating func handle(_ line: [UInt8]) -> [BackendLoginAction] {
        guard line.starts(with: Array("+OK".utf8)) else { return refuse(line) }
        switch step {
        case .greeting:
            guard Self.isSafeArgument(user), Self.isSafeArgument(password) else {
                step = .done
                return [.failed(.protocolViolation("login or password holds CR, LF or NUL"))]
            }
            step = .userReply
            return [.sendToBackend(Array("USER ".utf8) + user + [0x0D, 0x0A])]
        case .userReply:
            step = .passReply
            return [.sendToBackend(Array("PASS ".utf8) + password + [0x0D, 0x0A])]
        case .passReply:
            step = .done
            return [.loggedIn(clientReply: line + [0x0D, 0x0A], leftover: lines.takeAll())]
        case .done:
            return []
        }
    }

    /// With proxy_pass_error_message the client gets the backend's line.
    private mutating func refuse(_ line: [UInt8]) -> [BackendLoginAction] {
        step = .done
        if passErrorMessage { return [.failed(.authFailedReplied(line + [0x0D, 0x0A]))] }
        return [.failed(.authFailedNotReplied)]
    }
}
