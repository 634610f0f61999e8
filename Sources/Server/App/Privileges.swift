import Glibc

/// Why the `user` directive could not be applied. Start-up stops on any of
/// these: serving as root when the operator asked otherwise is worse than
/// not serving.
public enum PrivilegeError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownUser(String)
    case unknownGroup(String)
    case call(String, Errno)
    /// After the drop, setuid(0) worked: the drop did not hold.
    case regainedRoot

    public var description: String {
        switch self {
        case .unknownUser(let name): return "getpwnam(\"\(name)\") failed"
        case .unknownGroup(let name): return "getgrnam(\"\(name)\") failed"
        case .call(let what, let errno): return "\(what) failed \(errno)"
        case .regainedRoot: return "privileges could be regained after setuid(), refusing to serve"
        }
    }
}

/// The account a root-started Postern serves as, resolved from names.
public struct ServiceAccount: Sendable, Equatable {
    public let userName: String
    public let uid: uid_t
    public let gid: gid_t

    /// Looks up `user` and `group` (nginx's `user USER [GROUP]`).
    public static func lookup(user: String, group: String) throws(PrivilegeError) -> ServiceAccount {
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        var pw = passwd()
        var pwResult: UnsafeMutablePointer<passwd>? = nil
        let uid: uid_t? = buffer.withUnsafeMutableBufferPointer { buf in
            getpwnam_r(user, &pw, buf.baseAddress!, buf.count, &pwResult) == 0 && pwResult != nil ? pw.pw_uid : nil
        }
        guard let uid else { throw .unknownUser(user) }
        var gr = group_t()
        var grResult: UnsafeMutablePointer<group_t>? = nil
        let gid: gid_t? = buffer.withUnsafeMutableBufferPointer { buf in
            getgrnam_r(group, &gr, buf.baseAddress!, buf.count, &grResult) == 0 && grResult != nil ? gr.gr_gid : nil
        }
        guard let gid else { throw .unknownGroup(group) }
        return ServiceAccount(userName: user, uid: uid, gid: gid)
    }
}

typealias group_t = Glibc.group

/// Dropping root once, after the listeners are bound and the logs are open,
/// before the first client is served (nginx does this in its workers; Postern
/// is one process with threads, so the whole process drops, for good).
///
/// Kept in this file rather than the engine's Syscall layer: these calls run
/// once on the main thread before serving and are not descriptor I/O.
public enum Privileges {
    /// True when the effective user is root, the only case where `user` means anything.
    public static var isRoot: Bool { geteuid() == 0 }

    /// Gives log and cache files to `account` so that a USR1 reopen after the
    /// drop can still append to them and the cache stays writable (a missing
    /// file is created in its directory, which the operator must make
    /// writable: the unit's LogsDirectory and StateDirectory do). Paths that
    /// do not exist are skipped.
    public static func handOver(paths: [String], to account: ServiceAccount) {
        for path in paths { _ = chown(path, account.uid, account.gid) }
    }

    /// Supplementary groups first (they need root), then the group, then the
    /// user; then proves that root cannot be taken back.
    public static func drop(to account: ServiceAccount) throws(PrivilegeError) {
        if initgroups(account.userName, account.gid) != 0 { throw .call("initgroups()", Errno(errno)) }
        if setgid(account.gid) != 0 { throw .call("setgid(\(account.gid))", Errno(errno)) }
        if setuid(account.uid) != 0 { throw .call("setuid(\(account.uid))", Errno(errno)) }
        guard account.uid != 0 else { return }
        if setuid(0) == 0 || seteuid(0) == 0 { throw .regainedRoot }
        if getuid() != account.uid || geteuid() != account.uid || getgid() != account.gid
            || getegid() != account.gid {
            throw .regainedRoot
        }
    }
}

extension PosternMain {
    /// Applies the `user` directive; nil when done or not applicable. As
    /// nginx, the directive is ignored with a warning when not started as root.
    static func dropPrivileges(_ config: PosternConfig, mainTargets: [LogTarget], log: ErrorLog) -> PrivilegeError? {
        let main = config.main
        guard let user = main.user else { return nil }
        guard Privileges.isRoot else {
            log.log(.warn, "the \"user\" directive makes sense only if postern runs with super-user privileges, ignored")
            return nil
        }
        do throws(PrivilegeError) {
            let account = try ServiceAccount.lookup(user: user, group: main.group ?? user)
            let targets = mainTargets + config.servers.flatMap { ConfigPlanner.logTargets($0.errorLogs).targets }
            var paths: [String] = []
            for target in targets {
                if case .file(let path) = target.destination, !paths.contains(path) { paths.append(path) }
            }
            // The auth cache opens lazily in session threads, after the drop:
            // files a root run left behind must belong to the account too.
            for cache in Set(config.servers.compactMap(\.authCachePath)) {
                paths += [cache, cache + "-wal", cache + "-shm", cache + ".key"]
            }
            Privileges.handOver(paths: paths, to: account)
            try Privileges.drop(to: account)
            log.log(.notice, "serving as user \(user) (uid \(account.uid), gid \(account.gid))")
            return nil
        } catch {
            return error
        }
    }
}
