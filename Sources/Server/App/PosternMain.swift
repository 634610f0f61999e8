import AuthCache
import COpenSSL
import Glibc

/// The `postern` command: nginx's command-line contract (`-t`, `-T`, `-V`,
/// `-s`, `-p`, `-c`, `-e`, `-g`) and the process life around `Runtime`.
public enum PosternMain {
    public static func run(_ arguments: [String]) -> Int32 {
        let options: CommandLineOptions
        switch parseCommandLine(arguments) {
        case .success(let parsed): options = parsed
        case .failure(let error):
            printError(error.description)
            return 1
        }
        if options.showVersion {
            printError("postern version: postern/\(posternVersion)")
            if options.showHelp { printError(commandLineUsage) }
            if options.showConfigure {
                printError("built with \(String(cString: cossl_version_text()))")
                printError("features: imap auth_http relay(poll, splice)")
            }
            if !options.testConfig && !options.dumpConfig && options.signal == nil { return 0 }
        }

        let prefix = options.prefix ?? PosternDefaults.prefix
        let configFile = resolvePath(options.configFile ?? PosternDefaults.configFile, against: prefix)
        let startupTarget = startupLogTarget(options, prefix: prefix)
        let loaded = load(prefix: prefix, configFile: configFile, options: options)
        if options.testConfig || options.dumpConfig {
            return test(loaded, configFile: configFile, options: options)
        }
        guard case .success(let config) = loaded else {
            if case .failure(let errors) = loaded { report(errors, to: openStartupLog(startupTarget)) }
            return 1
        }
        if let signal = options.signal {
            return sendSignal(signal, pidPath: config.main.pidPath)
        }
        return serve(config: config, options: options, prefix: prefix, configFile: configFile,
                     startupTarget: startupTarget)
    }

    // MARK: - Configuration

    static func load(prefix: String, configFile: String, options: CommandLineOptions) -> Result<PosternConfig, ConfigErrorList> {
        parseConfig(prefix: prefix, configFile: configFile, commandLineDirectives: options.directives,
                    errorLogOverride: options.errorLog, environment: SystemConfigEnvironment(),
                    implementedDirectives: implementedDirectives)
    }

    static func test(_ loaded: Result<PosternConfig, ConfigErrorList>, configFile: String,
                     options: CommandLineOptions) -> Int32 {
        switch loaded {
        case .failure(let errors):
            for error in errors.errors { printError("postern: [emerg] \(error)") }
            printError("postern: configuration file \(configFile) test failed")
            return 1
        case .success(let config):
            for warning in config.warnings where !options.quiet { printError("postern: [warn] \(warning)") }
            // nginx loads certificates and keys while testing, so a bad one fails `-t`.
            if let failure = ConfigPlanner.checkTLS(config) {
                printError("postern: [emerg] \(failure)")
                printError("postern: configuration file \(configFile) test failed")
                return 1
            }
            if !options.quiet {
                printError("postern: the configuration file \(configFile) syntax is ok")
                printError("postern: configuration file \(configFile) test is successful")
            }
            if options.dumpConfig { printOut(config.dump) }
            if options.probe { return probe(config, quiet: options.quiet) }
            return 0
        }
    }

    static func report(_ errors: ConfigErrorList, to log: ErrorLog) {
        for error in errors.errors { log.log(.emerg, error.description) }
    }

    // MARK: - Logs

    /// `-e`, else the compiled-in path under the prefix.
    static func startupLogTarget(_ options: CommandLineOptions, prefix: String) -> LogTarget {
        switch options.errorLog {
        case .stderr: return LogTarget(.stderr, level: .notice)
        case .file(let path): return LogTarget(.file(path: resolvePath(path, against: prefix)), level: .notice)
        default: return LogTarget(.file(path: resolvePath(PosternDefaults.errorLogPath, against: prefix)), level: .notice)
        }
    }

    /// nginx goes on with stderr when its error log cannot be opened.
    static func openStartupLog(_ target: LogTarget) -> ErrorLog {
        do throws(Errno) {
            return try ErrorLog(targets: [target, LogTarget(.stderr, level: .emerg)].uniqued())
        } catch {
            if case .file(let path) = target.destination {
                printError("postern: [alert] could not open error log file: open() \"\(path)\" failed \(error)")
            }
            return ErrorLog.stderr(level: .notice)
        }
    }

    // MARK: - Signals to a running process

    static func sendSignal(_ command: SignalCommand, pidPath: String) -> Int32 {
        guard let signal = ProcessSignal(commandLineName: command.rawValue) else { return 1 }
        do throws(PidFileError) {
            try PidFile.signalRunningProcess(signal, pidPath: pidPath)
            return 0
        } catch {
            printError("postern: [error] \(error)")
            return 1
        }
    }

    // MARK: - Serving

    static func serve(config: PosternConfig, options: CommandLineOptions, prefix: String, configFile: String,
                      startupTarget: LogTarget) -> Int32 {
        // The main error_log; the config layer puts -e's there when the file names none.
        let (mainTargets, ignored) = ConfigPlanner.logTargets(config.main.errorLogs)
        let log: ErrorLog
        do throws(Errno) {
            log = try ErrorLog(targets: mainTargets.isEmpty ? [startupTarget] : mainTargets)
        } catch {
            printError("postern: [emerg] could not open error log: \(error)")
            return 1
        }
        for what in ignored { log.log(.warn, "error_log \(what) is not supported yet, ignored") }

        var plan: RuntimePlan
        switch ConfigPlanner.plan(config, mainLog: log, mainTargets: mainTargets) {
        case .success(let p): plan = p
        case .failure(let failure):
            log.log(.emerg, failure.description)
            return 1
        }

        SocketActivation.adoptFromEnvironment()
        // Detach before any thread exists; the parent waits for "ready" so
        // bind errors still reach the terminal's exit status.
        var readyPipe: (read: Int32, write: Int32)? = nil
        if config.main.daemon {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else {
                log.log(.emerg, "pipe() failed \(Errno(errno))")
                return 1
            }
            switch Daemon.detach() {
            case .failure(let error):
                log.log(.emerg, "fork() failed \(error)")
                return 1
            case .success(false):
                Glibc.close(fds[1])
                var byte: UInt8 = 0
                let n = read(fds[0], &byte, 1)
                return n == 1 && byte == 0 ? 0 : 1
            case .success(true):
                Glibc.close(fds[0])
                readyPipe = (fds[0], fds[1])
            }
        }
        func tellParent(_ ok: Bool) {
            guard let p = readyPipe else { return }
            var byte: UInt8 = ok ? 0 : 1
            _ = write(p.write, &byte, 1)
            Glibc.close(p.write)
            readyPipe = nil
        }

        Signals.blockProcessSignals()
        log.log(.notice, "postern/\(posternVersion)")
        for warning in plan.startupWarnings { log.log(.warn, warning) }

        // Before the runtime's threads start, so they inherit it.
        let cpuBinding = CPUBinding()
        cpuBinding.apply(config.main.workerCPUAffinity, log: log)

        let runtime: Runtime
        do throws(RuntimeError) {
            runtime = try Runtime(plan: plan, log: log)
        } catch {
            log.log(.emerg, error.description)
            tellParent(false)
            return 1
        }
        for address in InheritedListeners.shared.closeUnclaimed() {
            log.log(.warn, "socket activation: inherited socket \(address) matches no listen directive, closed")
        }
        // Bound and opened as root; from here on serve as the `user` account.
        if let failure = dropPrivileges(config, mainTargets: mainTargets, log: log) {
            log.log(.emerg, failure.description)
            runtime.fastStop()
            tellParent(false)
            return 1
        }
        log.log(.notice, "start serving: \(plan.listeners.count) listeners, \(plan.sessionThreads) session threads")
        tellParent(true)
        let notify = SystemdNotify.fromProcessEnvironment()
        notify?.ready(status: serviceStatus(runtime))
        if let notify { startStatusUpdates(notify, runtime: runtime) }

        while true {
            switch Signals.waitForSignal() {
            case .fastStop:
                notify?.stopping()
                log.log(.notice, "signal received, exiting")
                runtime.fastStop()
                log.log(.notice, "exit")
                return 0
            case .gracefulStop:
                notify?.stopping()
                log.log(.notice, "gracefully shutting down")
                runtime.gracefulStop()
                log.log(.notice, "exit")
                return 0
            case .reopenLogs:
                log.log(.notice, "reopening logs")
                for error in log.reopen() { log.log(.alert, "reopen of error log failed \(error)") }
                for serverLog in plan.serverLogs { _ = serverLog.reopen() }
            case .reload:
                notify?.reloading()
                defer { notify?.ready(status: serviceStatus(runtime)) }
                log.log(.notice, "reconfiguring")
                switch load(prefix: prefix, configFile: configFile, options: options) {
                case .failure(let errors):
                    report(errors, to: log)
                    log.log(.emerg, "reload refused, the old configuration keeps serving")
                case .success(let newConfig):
                    switch ConfigPlanner.plan(newConfig, mainLog: log, mainTargets: mainTargets) {
                    case .failure(let failure):
                        log.log(.emerg, "\(failure.description), reload refused")
                    case .success(let newPlan):
                        for warning in newPlan.startupWarnings { log.log(.warn, warning) }
                        if runtime.reload(newPlan) {
                            plan = newPlan
                            cpuBinding.apply(newConfig.main.workerCPUAffinity, log: log)
                            log.log(.notice, "reloaded: \(newPlan.listeners.count) listeners")
                        }
                    }
                }
            }
        }
    }
}

extension Array where Element == LogTarget {
    func uniqued() -> [LogTarget] {
        var out: [LogTarget] = []
        for t in self where !out.contains(t) { out.append(t) }
        return out
    }
}

func printError(_ text: String) {
    var line = Array(text.utf8)
    line.append(0x0A)
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

func printOut(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}
