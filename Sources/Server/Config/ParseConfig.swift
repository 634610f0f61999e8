/// Reads, checks and resolves a configuration. Pure apart from the
/// environment, which reads files and resolves names.
///
/// - prefix: nginx's `-p` (pid, error_log and auth_cache paths resolve
///   against it); a trailing `/` is added when missing.
/// - configFile: nginx's `-c`, relative to the prefix when not absolute. Its
///   directory is the base for `include` and certificate paths.
/// - commandLineDirectives: `-g` text, read before the file as nginx does,
///   so a file repeating a `-g` directive gets "is duplicate".
/// - errorLogOverride: `-e`; like nginx, it replaces the compiled-in
///   default error log when the main context has no `error_log`.
/// - Returns every error found, in the order nginx would meet them.
public func parseConfig(prefix: String, configFile: String, commandLineDirectives: String? = nil,
                        errorLogOverride: ErrorLogTarget? = nil,
                        environment: some ConfigEnvironment,
                        implementedDirectives: Set<String> = PosternConfig.defaultImplementedDirectives)
    -> Result<PosternConfig, ConfigErrorList>
{
    let prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
    let path = resolvePath(configFile, against: prefix)
    let confPrefix = directoryPrefix(of: path)

    var reader = ConfigTreeReader(environment: environment, confPrefix: confPrefix)
    let commandLineNodes = commandLineDirectives.map { reader.readCommandLine($0) } ?? []
    let fileNodes = reader.readMainFile(path)
    let syntaxErrorCount = reader.errors.count

    var interpreter = ConfigInterpreter(environment: environment, prefix: prefix,
                                        confPrefix: confPrefix, implemented: implementedDirectives)
    interpreter.walk(commandLineNodes, in: .main)
    interpreter.walk(fileNodes, in: .main)

    var errors = reader.errors + interpreter.errors
    // Merge-time checks describe whole servers; after a syntax error they
    // would only repeat it, so nginx never reaches them and neither do we.
    var mainSettings = interpreter.resolveMain()
    if interpreter.main.errorLogs == nil, let target = errorLogOverride {
        var resolved = target
        if case .file(let p) = target { resolved = .file(resolvePath(p, against: prefix)) }
        mainSettings.errorLogs = [ErrorLogSpec(target: resolved, level: .error)]
    }
    var servers: [ServerSettings] = []
    if syntaxErrorCount == 0 && interpreter.errors.isEmpty {
        for i in interpreter.servers.indices {
            if let s = interpreter.resolveServer(i, mainSettings: mainSettings) { servers.append(s) }
        }
        errors += interpreter.errors
    }
    if !errors.isEmpty { return .failure(ConfigErrorList(errors)) }

    let listeners = interpreter.servers.flatMap { $0.listens }
    var dump = ""
    for file in reader.dumpedFiles {
        // nginx -T writes a newline after every file, ending in one or not.
        dump += "# configuration file \(file.path):\n\(file.text)\n"
    }
    return .success(PosternConfig(main: mainSettings, mail: interpreter.resolveMail(), servers: servers,
                                  listeners: listeners, notSupportedYet: interpreter.uses,
                                  warnings: reader.errors + interpreter.warnings, dump: dump))
}

/// Parses configuration text directly (tests, `-t` on a pasted snippet):
/// the text is the file `file`, includes resolve next to it in `others`.
public func parseConfig(text: String, file: String = "/etc/postern/postern.conf",
                        prefix: String = PosternDefaults.prefix, others: [String: String] = [:],
                        hostname: String = "localhost") -> Result<PosternConfig, ConfigErrorList> {
    var files = others
    files[file] = text
    return parseConfig(prefix: prefix, configFile: file,
                       environment: InMemoryConfigEnvironment(files: files, hostname: hostname))
}
