/// `-s SIGNAL`: what to tell a running master, as nginx's signaller does.
public enum SignalCommand: String, Sendable, Equatable, CaseIterable {
    case stop, quit, reopen, reload
}

/// The command line, nginx's options with nginx's meaning.
public struct CommandLineOptions: Sendable, Equatable {
    /// `-h` / `-?`: help (implies version).
    public var showHelp = false
    /// `-v`: version.
    public var showVersion = false
    /// `-V`: version and build configuration.
    public var showConfigure = false
    /// `-t`: check the configuration and exit.
    public var testConfig = false
    /// `-T`: like `-t`, and print the configuration files.
    public var dumpConfig = false
    /// `-q`: during `-t`, print errors only.
    public var quiet = false
    /// `-P` (Postern's own, implies `-t`): also probe the auth service, the
    /// backends it names and the certificate files.
    public var probe = false
    /// `-p PREFIX`.
    public var prefix: String?
    /// `-c FILE`.
    public var configFile: String?
    /// `-e FILE` or `-e stderr` (the startup error log, before the config is read).
    public var errorLog: ErrorLogTarget?
    /// `-g 'directives;'`.
    public var directives: String?
    /// `-s stop|quit|reopen|reload`.
    public var signal: SignalCommand?

    public init() {}
}

/// A bad command line, printed as nginx prints it with our program name.
public enum CommandLineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An argument not starting with `-` (the whole word) or an unknown letter.
    case invalidOption(String)
    /// `-p`, `-e`, `-c`, `-g`, `-s` at the end of the line; the text says what is missing.
    case missingArgument(option: Character, what: String)
    /// `-s` with something other than stop, quit, reopen, reload.
    case invalidSignal(String)

    public var description: String {
        switch self {
        case .invalidOption(let text): return "postern: invalid option: \"\(text)\""
        case .missingArgument(let option, let what): return "postern: option \"-\(option)\" requires \(what)"
        case .invalidSignal(let name): return "postern: invalid option: \"-s \(name)\""
        }
    }
}

/// Parses the arguments after the program name, letter by letter as
/// nginx's `ngx_get_options`: flags combine (`-tq`), and an option with a
/// value takes the rest of the word (`-pDIR`) or the next word (`-p DIR`).
public func parseCommandLine(_ args: [String]) -> Result<CommandLineOptions, CommandLineError> {
    var options = CommandLineOptions()
    var i = 0
    while i < args.count {
        let word = Array(args[i])
        guard word.first == "-" else { return .failure(.invalidOption(args[i])) }
        var j = 1
        letters: while j < word.count {
            let letter = word[j]
            j += 1
            /// The value of a value-taking option: rest of this word, or the next one.
            func value() -> String? {
                if j < word.count { return String(word[j...]) }
                if i + 1 < args.count { i += 1; return args[i] }
                return nil
            }
            switch letter {
            case "?", "h":
                options.showVersion = true
                options.showHelp = true
            case "v":
                options.showVersion = true
            case "V":
                options.showVersion = true
                options.showConfigure = true
            case "t":
                options.testConfig = true
            case "T":
                options.testConfig = true
                options.dumpConfig = true
            case "q":
                options.quiet = true
            case "P":
                options.testConfig = true
                options.probe = true
            case "p":
                guard let v = value() else { return .failure(.missingArgument(option: "p", what: "directory name")) }
                options.prefix = v
                break letters
            case "e":
                guard let v = value() else { return .failure(.missingArgument(option: "e", what: "file name")) }
                options.errorLog = v == "stderr" ? .stderr : .file(v)
                break letters
            case "c":
                guard let v = value() else { return .failure(.missingArgument(option: "c", what: "file name")) }
                options.configFile = v
                break letters
            case "g":
                guard let v = value() else { return .failure(.missingArgument(option: "g", what: "parameter")) }
                options.directives = v
                break letters
            case "s":
                guard let v = value() else { return .failure(.missingArgument(option: "s", what: "parameter")) }
                guard let signal = SignalCommand(rawValue: v) else { return .failure(.invalidSignal(v)) }
                options.signal = signal
                break letters
            default:
                return .failure(.invalidOption(String(letter)))
            }
        }
        i += 1
    }
    return .success(options)
}

/// The usage text for `-h`, in nginx's layout.
public let commandLineUsage = """
    Usage: postern [-?hvVtTqP] [-s signal] [-p prefix]
                   [-e filename] [-c filename] [-g directives]

    Options:
      -?,-h         : this help
      -v            : show version and exit
      -V            : show version and configure options then exit
      -t            : test configuration and exit
      -T            : test configuration, dump it and exit
      -q            : suppress non-error messages during configuration testing
      -P            : test configuration, then probe auth_http, backends and certificates
      -s signal     : send signal to a master process: stop, quit, reopen, reload
      -p prefix     : set prefix path (default: \(PosternDefaults.prefix))
      -e filename   : set error log file (default: \(PosternDefaults.errorLogPath))
      -c filename   : set configuration file (default: \(PosternDefaults.configFile))
      -g directives : set global directives out of configuration file

    """
