/// One directive as written: its words, where it is, and its block if it
/// opened one. `include` is already replaced by the included directives.
struct ConfigNode: Equatable {
    var name: String
    var args: [String]
    /// File path, or nil for `-g` text ("in command line").
    var file: String?
    var line: Int
    var opensBlock: Bool
    var children: [ConfigNode]

    var location: ConfigLocation {
        if let file { return .file(file, line: line) }
        return .commandLine
    }
}

/// Reads a file and its includes into `ConfigNode` trees, the way
/// `ngx_conf_parse` walks files: each file is its own unit (a `}` it does
/// not open is "unexpected"), and a syntax error stops that file.
struct ConfigTreeReader {
    let environment: any ConfigEnvironment
    /// Directory holding the main config file, with a trailing `/`; nginx's
    /// conf_prefix, against which `include` paths resolve.
    let confPrefix: String
    private(set) var errors: [ConfigError] = []
    /// Every file read, in order, with its text, for `-T`.
    private(set) var dumpedFiles: [(path: String, text: String)] = []
    private var includeDepth = 0

    /// nginx has no include depth limit but loops forever on a self-include;
    /// this bound turns that into an error.
    static let maxIncludeDepth = 32

    init(environment: any ConfigEnvironment, confPrefix: String) {
        self.environment = environment
        self.confPrefix = confPrefix
    }

    /// Reads the main file. Open failures of the main file have no location.
    mutating func readMainFile(_ path: String) -> [ConfigNode] {
        switch environment.readFile(path) {
        case .failure(let e):
            errors.append(ConfigError("open() \"\(path)\" failed \(e.nginxSuffix)", at: .none))
            return []
        case .success(let bytes):
            return parseFile(path: path, bytes: bytes)
        }
    }

    /// Parses `-g` text: statements only, no blocks, no file.
    mutating func readCommandLine(_ text: String) -> [ConfigNode] {
        var lexer = ConfigLexer(bytes: Array(text.utf8), isCommandLine: true)
        var nodes: [ConfigNode] = []
        while true {
            switch lexer.next() {
            case .end: return nodes
            case .error(let message, _):
                errors.append(ConfigError(message, at: .commandLine))
                return nodes
            case .blockEnd:
                errors.append(ConfigError("unexpected \"}\"", at: .commandLine))
                return nodes
            case .statement(let words, let opensBlock, let line):
                if opensBlock {
                    errors.append(ConfigError("block directives are not supported in -g option", at: .commandLine))
                    return nodes
                }
                nodes.append(ConfigNode(name: words[0], args: Array(words.dropFirst()), file: nil,
                                        line: line, opensBlock: false, children: []))
            }
        }
    }

    private mutating func parseFile(path: String, bytes: [UInt8]) -> [ConfigNode] {
        if !dumpedFiles.contains(where: { $0.path == path }) {
            dumpedFiles.append((path, String(decoding: bytes, as: UTF8.self)))
        }
        var lexer = ConfigLexer(bytes: bytes)
        return parseSequence(&lexer, path: path, inBlock: false).nodes
    }

    /// Statements up to the end of the file (or the matching `}`). Returns
    /// what was read before a syntax error, which is recorded, with
    /// `complete == false`.
    private mutating func parseSequence(_ lexer: inout ConfigLexer, path: String,
                                        inBlock: Bool) -> (nodes: [ConfigNode], complete: Bool) {
        var nodes: [ConfigNode] = []
        while true {
            switch lexer.next() {
            case .error(let message, let line):
                errors.append(ConfigError(message, at: .file(path, line: line)))
                return (nodes, false)
            case .end(let line):
                if inBlock {
                    errors.append(ConfigError("unexpected end of file, expecting \"}\"", at: .file(path, line: line)))
                    return (nodes, false)
                }
                return (nodes, true)
            case .blockEnd(let line):
                if !inBlock {
                    errors.append(ConfigError("unexpected \"}\"", at: .file(path, line: line)))
                    return (nodes, false)
                }
                return (nodes, true)
            case .statement(let words, let opensBlock, let line):
                var node = ConfigNode(name: words[0], args: Array(words.dropFirst()), file: path,
                                      line: line, opensBlock: opensBlock, children: [])
                if opensBlock {
                    let inner = parseSequence(&lexer, path: path, inBlock: true)
                    node.children = inner.nodes
                    if !inner.complete {
                        // Keep the partial block so its directives are still checked.
                        nodes.append(node)
                        return (nodes, false)
                    }
                }
                if node.name == "include" {
                    nodes.append(contentsOf: expandInclude(node))
                } else {
                    nodes.append(node)
                }
            }
        }
    }

    /// `include PATH;` in any context: a path without `*?[` is one file that
    /// must exist; a pattern includes every match in sorted order (none is fine).
    private mutating func expandInclude(_ node: ConfigNode) -> [ConfigNode] {
        if node.opensBlock {
            errors.append(ConfigError("directive \"include\" is not terminated by \";\"", at: node.location))
            return []
        }
        guard node.args.count == 1 else {
            errors.append(ConfigError("invalid number of arguments in \"include\" directive", at: node.location))
            return []
        }
        guard includeDepth < Self.maxIncludeDepth else {
            errors.append(ConfigError("include nesting is too deep for \"\(node.args[0])\"", at: node.location))
            return []
        }
        let target = resolvePath(node.args[0], against: confPrefix)
        var paths: [String]
        if target.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) {
            switch environment.glob(target) {
            case .failure(let e):
                errors.append(ConfigError("glob() \"\(target)\" failed \(e.nginxSuffix)", at: node.location))
                return []
            case .success(let matches): paths = matches
            }
        } else {
            paths = [target]
        }
        var out: [ConfigNode] = []
        includeDepth += 1
        defer { includeDepth -= 1 }
        for path in paths {
            switch environment.readFile(path) {
            case .failure(let e):
                errors.append(ConfigError("open() \"\(path)\" failed \(e.nginxSuffix)", at: node.location))
                return out
            case .success(let bytes):
                out.append(contentsOf: parseFile(path: path, bytes: bytes))
            }
        }
        return out
    }
}

/// nginx's `ngx_get_full_name`: absolute paths stay, others join the prefix.
func resolvePath(_ path: String, against prefix: String) -> String {
    if path.hasPrefix("/") || prefix.isEmpty { return path }
    return prefix.hasSuffix("/") ? prefix + path : prefix + "/" + path
}

/// The directory part of a path with a trailing slash (nginx's conf_prefix).
func directoryPrefix(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "" }
    return String(path[...slash])
}
