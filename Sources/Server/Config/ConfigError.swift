/// Where a configuration message points: a file and line, the `-g` text, or
/// nowhere (nginx's post-parse checks carry their own "in FILE:LINE").
public enum ConfigLocation: Sendable, Equatable, Hashable {
    case file(String, line: Int)
    case commandLine
    case none
}

/// One configuration error or warning, worded exactly as nginx words it so an
/// operator moving from nginx sees the same text (`ngx_conf_log_error`).
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message without the location suffix, e.g. `unknown directive "foo"`.
    public var message: String
    public var location: ConfigLocation

    public init(_ message: String, at location: ConfigLocation) {
        self.message = message
        self.location = location
    }

    /// The text nginx prints: `MESSAGE in FILE:LINE`, `MESSAGE in command line`,
    /// or the bare message.
    public var description: String {
        switch location {
        case .file(let file, let line): return "\(message) in \(file):\(line)"
        case .commandLine: return "\(message) in command line"
        case .none: return message
        }
    }
}

/// A failed read of a configuration file, as the environment reports it.
/// nginx appends errno as `(2: No such file or directory)`.
public struct ConfigFileError: Error, Sendable, Equatable {
    public var errno: Int32
    public var reason: String

    public init(errno: Int32, reason: String) {
        self.errno = errno
        self.reason = reason
    }

    var nginxSuffix: String { "(\(errno): \(reason))" }
}

/// Every error of one parse, in the order nginx would meet them. (Swift's
/// `Result` needs an `Error` failure type, which an array is not.)
public struct ConfigErrorList: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) { self.errors = errors }

    /// One nginx-style line per error, as `-t` prints them.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
