import Protocols

/// A `server { }` as written, before inheritance.
struct ServerScope {
    var values = ScopeValues()
    var file: String
    var line: Int
    var location: ConfigLocation
    /// The `protocol` directive (last one wins, as in nginx).
    var explicitProtocol: MailProtocol?
    var listens: [ListenerSpec] = []
    /// Where the first `listen ... ssl` is, for nginx's certificate check.
    var sslListenLocation: ConfigLocation?
}

/// The block the walker is in.
enum WalkContext: Equatable {
    case main, events, mail, server(Int)

    var contexts: DirectiveContexts {
        switch self {
        case .main: return .main
        case .events: return .events
        case .mail: return .mail
        case .server: return .server
        }
    }
}

/// Walks the directive trees against `DirectiveTable`, the way
/// `ngx_conf_handler` dispatches, but collecting every error instead of
/// stopping at the first: a bad directive is reported and skipped.
struct ConfigInterpreter {
    let environment: any ConfigEnvironment
    /// nginx's prefix (pid, error_log, auth_cache) with a trailing `/`.
    let prefix: String
    /// nginx's conf_prefix (include, certificates) with a trailing `/`.
    let confPrefix: String
    let implemented: Set<String>

    var errors: [ConfigError] = []
    var warnings: [ConfigError] = []
    var uses: [DirectiveUse] = []

    var main = ScopeValues()
    var workerProcesses: WorkerProcesses?
    var workerCPUAffinity: CPUAffinity?
    var user: (String, String)?
    var eventsSeen = false
    var mail: ScopeValues?
    var servers: [ServerScope] = []

    init(environment: any ConfigEnvironment, prefix: String, confPrefix: String, implemented: Set<String>) {
        self.environment = environment
        self.prefix = prefix
        self.confPrefix = confPrefix
        self.implemented = implemented
    }

    mutating func walk(_ nodes: [ConfigNode], in context: WalkContext) {
        for node in nodes { handle(node, in: context) }
    }

    mutating func fail(_ message: String, _ node: ConfigNode) {
        errors.append(ConfigError(message, at: node.location))
    }

    mutating func warn(_ message: String, _ location: ConfigLocation) {
        warnings.append(ConfigError(message, at: location))
    }

    mutating func noteUse(_ name: String, _ location: ConfigLocation) {
        if !implemented.contains(name) { uses.append(DirectiveUse(name: name, location: location)) }
    }

    private mutating func handle(_ node: ConfigNode, in context: WalkContext) {
        let name = node.name
        guard let spec = DirectiveTable.byName[name] else {
            return fail("unknown directive \"\(name)\"", node)
        }
        guard spec.contexts.contains(context.contexts) else {
            return fail("\"\(name)\" directive is not allowed here", node)
        }
        let isBlock: Bool
        if case .block = spec.kind { isBlock = true } else { isBlock = false }
        if !isBlock && node.opensBlock {
            return fail("directive \"\(name)\" is not terminated by \";\"", node)
        }
        if isBlock && !node.opensBlock {
            return fail("directive \"\(name)\" has no opening \"{\"", node)
        }
        guard spec.arity.accepts(node.args.count) else {
            return fail("invalid number of arguments in \"\(name)\" directive", node)
        }
        noteUse(name, node.location)

        switch spec.kind {
        case .block:
            enterBlock(node, in: context)
        case .custom:
            applyCustom(spec, node, in: context)
        default:
            var warned: [String] = []
            let error = withScope(context) { scope in
                scope.apply(spec, node.args, at: node.location, warn: { warned.append($0) })
            }
            for w in warned { warn(w, node.location) }
            if let error { fail(error, node) }
        }
    }

    /// Runs `body` on the values of the block `context` stands for.
    mutating func withScope<T>(_ context: WalkContext, _ body: (inout ScopeValues) -> T) -> T {
        switch context {
        case .main, .events:
            return body(&main)
        case .mail:
            var scope = mail ?? ScopeValues()
            defer { mail = scope }
            return body(&scope)
        case .server(let i):
            return body(&servers[i].values)
        }
    }

    private mutating func enterBlock(_ node: ConfigNode, in context: WalkContext) {
        switch node.name {
        case "events":
            if eventsSeen { return fail("\"events\" directive is duplicate", node) }
            eventsSeen = true
            walk(node.children, in: .events)
        case "mail":
            if mail != nil { return fail("\"mail\" directive is duplicate", node) }
            mail = ScopeValues()
            walk(node.children, in: .mail)
        case "server":
            let index = servers.count
            servers.append(ServerScope(file: node.file ?? "command line", line: node.line, location: node.location))
            let errorsBefore = errors.count
            walk(node.children, in: .server(index))
            // nginx checks this only when the block itself parsed cleanly.
            if errors.count == errorsBefore && servers[index].listens.isEmpty {
                errors.append(ConfigError(
                    "no \"listen\" is defined for server in \(servers[index].file):\(node.line)", at: .none))
            }
        default:
            break
        }
    }
}
