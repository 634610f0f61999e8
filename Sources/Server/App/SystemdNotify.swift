import Glibc

/// systemd's readiness protocol (sd_notify(3)), spoken without libsystemd:
/// one datagram of `KEY=VALUE` lines to the unix socket named in
/// `$NOTIFY_SOCKET`. A name starting with `@` is a Linux abstract socket.
///
/// Best effort by design: when the socket is unset or the send fails, the
/// server serves anyway; only systemd's start-up timeout would notice.
/// The calls go through the engine's syscall layer (sysSocket, sysConnect on
/// a datagram socket, sysWrite); only the address is built here, because an
/// abstract name has no trailing NUL, unlike `SocketAddress.unix`.
public struct SystemdNotify: Sendable {
    /// The socket address bytes after `sun_family`, exactly as sent to connect.
    let path: [UInt8]

    /// From `$NOTIFY_SOCKET`; nil when unset, empty or too long.
    public init?(environment value: String?) {
        guard let value, !value.isEmpty else { return nil }
        var bytes = Array(value.utf8)
        guard bytes.first == UInt8(ascii: "/") || bytes.first == UInt8(ascii: "@") else { return nil }
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        guard bytes.count < capacity else { return nil }
        path = bytes
    }

    /// Reads `$NOTIFY_SOCKET` of this process.
    public static func fromProcessEnvironment() -> SystemdNotify? {
        guard let raw = getenv("NOTIFY_SOCKET") else { return nil }
        return SystemdNotify(environment: String(cString: raw))
    }

    /// Every listener is up (and privileges are dropped).
    public func ready(status: String) { send(["READY=1", "STATUS=\(status)"]) }

    /// A reload starts; systemd wants the monotonic clock in microseconds with it.
    public func reloading() {
        send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())", "STATUS=reloading"])
    }

    /// The process is going down.
    public func stopping() { send(["STOPPING=1", "STATUS=stopping"]) }

    /// A free-form line for `systemctl status`.
    public func status(_ text: String) { send(["STATUS=\(text)"]) }

    /// Sends one datagram; true when the kernel took it.
    @discardableResult
    public func send(_ lines: [String]) -> Bool {
        let text = lines.map { $0.replacing("\n", with: " ") }.joined(separator: "\n")
        let fd: Int32
        do throws(Errno) {
            fd = try sysSocket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | cnetCloexec, 0)
        } catch {
            return false
        }
        defer { sysClose(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count
                               + (path.first == 0 ? 0 : 1))
        let connected: Errno? = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                do throws(Errno) { try sysConnect(fd, p, length); return nil } catch { return error }
            }
        }
        guard connected == nil else { return false }
        let bytes = Array(text.utf8)
        let sent: Int? = bytes.withUnsafeBytes { b in
            do throws(Errno) { return try sysWrite(fd, b) } catch { return nil }
        }
        return sent == bytes.count
    }

    static func monotonicMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
    }
}

private let cnetCloexec = Int32(SOCK_CLOEXEC.rawValue)

extension PosternMain {
    /// The STATUS= text `systemctl status` shows.
    static func serviceStatus(_ runtime: Runtime) -> String {
        "serving: \(runtime.listenerCount) listeners, \(runtime.liveSessions) live sessions"
    }

    /// Refreshes STATUS= every few seconds so the session count stays current;
    /// the thread lives as long as the process.
    static func startStatusUpdates(_ notify: SystemdNotify, runtime: Runtime, everySeconds: UInt32 = 5) {
        startThread(name: "sd-status", stackSize: 128 * 1024) {
            while true {
                sleep(everySeconds)
                notify.status(serviceStatus(runtime))
            }
        }
    }
}
