/// The blocks a directive may appear in (nginx's NGX_MAIN_CONF,
/// NGX_EVENT_CONF, NGX_MAIL_MAIN_CONF, NGX_MAIL_SRV_CONF).
struct DirectiveContexts: OptionSet, Sendable {
    let rawValue: UInt8
    static let main = DirectiveContexts(rawValue: 1)
    static let events = DirectiveContexts(rawValue: 2)
    static let mail = DirectiveContexts(rawValue: 4)
    static let server = DirectiveContexts(rawValue: 8)
    static let mailAndServer: DirectiveContexts = [.mail, .server]
}

/// How many arguments a directive takes (NGX_CONF_NOARGS, TAKE1, TAKE12,
/// FLAG, 1MORE, ...), counted without the directive name.
enum DirectiveArity: Sendable {
    case none
    case exactly(Int)
    case oneOrTwo
    case oneOrMore
    case twoOrMore

    func accepts(_ count: Int) -> Bool {
        switch self {
        case .none: return count == 0
        case .exactly(let n): return count == n
        case .oneOrTwo: return count == 1 || count == 2
        case .oneOrMore: return count >= 1
        case .twoOrMore: return count >= 2
        }
    }
}

/// How a directive's value is checked and stored; the generic kinds mirror
/// nginx's `ngx_conf_set_*_slot` functions, including which of them refuse a
/// second occurrence ("is duplicate") and which accumulate.
enum DirectiveKind: Sendable {
    /// on|off, case-insensitive; duplicate refused.
    case flag
    /// time in milliseconds; duplicate refused.
    case msec
    /// time in seconds; duplicate refused.
    case sec
    /// size with k/m; duplicate refused.
    case size
    /// size with k/m/g; duplicate refused.
    case offset
    /// decimal number; duplicate refused ("invalid number").
    case number
    /// one string; duplicate refused.
    case string
    /// one string per occurrence, accumulating (str_array slot).
    case stringList
    /// every argument of every occurrence, accumulating (capabilities, env).
    case words
    /// key and value per occurrence, accumulating (keyval slot).
    case keyValues
    /// one of the values, case-insensitive; duplicate refused.
    case enumeration([String])
    /// any of the values, case-insensitive, OR-ed across occurrences.
    case bitmask([String])
    /// checked by the interpreter's own code.
    case custom
    /// a block (`mail`, `server`, `events`).
    case block
}

struct DirectiveSpec: Sendable {
    let name: String
    let contexts: DirectiveContexts
    let arity: DirectiveArity
    let kind: DirectiveKind
}

/// Every directive Postern accepts: nginx's core main-context directives,
/// the events block, all mail modules (core, auth_http, proxy, realip, ssl,
/// imap, pop3, smtp) as nginx's `ngx_command_t` tables declare them, and
/// Postern's own.
enum DirectiveTable {
    static let all: [DirectiveSpec] = mainDirectives + eventsDirectives + mailDirectives + posternDirectives

    static let byName: [String: DirectiveSpec] = {
        var table: [String: DirectiveSpec] = [:]
        for spec in all { table[spec.name] = spec }
        return table
    }()

    static let mainDirectives: [DirectiveSpec] = [
        DirectiveSpec(name: "daemon", contexts: .main, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "master_process", contexts: .main, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "timer_resolution", contexts: .main, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "pid", contexts: .main, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "lock_file", contexts: .main, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "worker_processes", contexts: .main, arity: .exactly(1), kind: .custom),
        DirectiveSpec(name: "debug_points", contexts: .main, arity: .exactly(1), kind: .enumeration(["stop", "abort"])),
        DirectiveSpec(name: "user", contexts: .main, arity: .oneOrTwo, kind: .custom),
        DirectiveSpec(name: "worker_priority", contexts: .main, arity: .exactly(1), kind: .custom),
        DirectiveSpec(name: "worker_cpu_affinity", contexts: .main, arity: .oneOrMore, kind: .custom),
        DirectiveSpec(name: "worker_rlimit_nofile", contexts: .main, arity: .exactly(1), kind: .number),
        DirectiveSpec(name: "worker_rlimit_core", contexts: .main, arity: .exactly(1), kind: .offset),
        DirectiveSpec(name: "worker_shutdown_timeout", contexts: .main, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "working_directory", contexts: .main, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "env", contexts: .main, arity: .exactly(1), kind: .words),
        DirectiveSpec(name: "load_module", contexts: .main, arity: .exactly(1), kind: .words),
        DirectiveSpec(name: "events", contexts: .main, arity: .none, kind: .block),
        DirectiveSpec(name: "mail", contexts: .main, arity: .none, kind: .block),
        // ngx_log.c's error_log also lives in main; the mail one is below.
        DirectiveSpec(name: "error_log", contexts: [.main, .mail, .server], arity: .oneOrMore, kind: .custom),
    ]

    static let eventsDirectives: [DirectiveSpec] = [
        DirectiveSpec(name: "worker_connections", contexts: .events, arity: .exactly(1), kind: .number),
        DirectiveSpec(name: "use", contexts: .events, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "multi_accept", contexts: .events, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "accept_mutex", contexts: .events, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "accept_mutex_delay", contexts: .events, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "debug_connection", contexts: .events, arity: .exactly(1), kind: .stringList),
    ]

    static let mailDirectives: [DirectiveSpec] = [
        // ngx_mail_core_module
        DirectiveSpec(name: "server", contexts: .mail, arity: .none, kind: .block),
        DirectiveSpec(name: "listen", contexts: .server, arity: .oneOrMore, kind: .custom),
        DirectiveSpec(name: "protocol", contexts: .server, arity: .exactly(1), kind: .custom),
        DirectiveSpec(name: "timeout", contexts: .mailAndServer, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "server_name", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "resolver", contexts: .mailAndServer, arity: .oneOrMore, kind: .custom),
        DirectiveSpec(name: "resolver_timeout", contexts: .mailAndServer, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "max_errors", contexts: .mailAndServer, arity: .exactly(1), kind: .number),
        // ngx_mail_auth_http_module
        DirectiveSpec(name: "auth_http", contexts: .mailAndServer, arity: .exactly(1), kind: .custom),
        DirectiveSpec(name: "auth_http_timeout", contexts: .mailAndServer, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "auth_http_header", contexts: .mailAndServer, arity: .exactly(2), kind: .keyValues),
        DirectiveSpec(name: "auth_http_pass_client_cert", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        // ngx_mail_proxy_module
        DirectiveSpec(name: "proxy", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "proxy_buffer", contexts: .mailAndServer, arity: .exactly(1), kind: .size),
        DirectiveSpec(name: "proxy_timeout", contexts: .mailAndServer, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "proxy_pass_error_message", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "xclient", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "proxy_smtp_auth", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "proxy_protocol", contexts: .mailAndServer, arity: .exactly(1),
                      kind: .enumeration(["off", "on", "v2"])),
        // ngx_mail_realip_module
        DirectiveSpec(name: "set_real_ip_from", contexts: .mailAndServer, arity: .exactly(1), kind: .custom),
        // ngx_mail_ssl_module
        DirectiveSpec(name: "starttls", contexts: .mailAndServer, arity: .exactly(1),
                      kind: .enumeration(["off", "on", "only"])),
        DirectiveSpec(name: "ssl_certificate", contexts: .mailAndServer, arity: .exactly(1), kind: .stringList),
        DirectiveSpec(name: "ssl_certificate_key", contexts: .mailAndServer, arity: .exactly(1), kind: .stringList),
        DirectiveSpec(name: "ssl_password_file", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "ssl_certificate_compression", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "ssl_dhparam", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "ssl_ecdh_curve", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "ssl_protocols", contexts: .mailAndServer, arity: .oneOrMore,
                      kind: .bitmask(["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"])),
        DirectiveSpec(name: "ssl_ciphers", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "ssl_prefer_server_ciphers", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "ssl_session_cache", contexts: .mailAndServer, arity: .oneOrTwo, kind: .custom),
        DirectiveSpec(name: "ssl_session_tickets", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "ssl_session_ticket_key", contexts: .mailAndServer, arity: .exactly(1), kind: .stringList),
        DirectiveSpec(name: "ssl_session_timeout", contexts: .mailAndServer, arity: .exactly(1), kind: .sec),
        DirectiveSpec(name: "ssl_verify_client", contexts: .mailAndServer, arity: .exactly(1),
                      kind: .enumeration(["off", "on", "optional", "optional_no_ca"])),
        DirectiveSpec(name: "ssl_verify_depth", contexts: .mailAndServer, arity: .exactly(1), kind: .number),
        DirectiveSpec(name: "ssl_client_certificate", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "ssl_trusted_certificate", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "ssl_crl", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "ssl_conf_command", contexts: .mailAndServer, arity: .exactly(2), kind: .keyValues),
        // ngx_mail_imap_module
        DirectiveSpec(name: "imap_client_buffer", contexts: .mailAndServer, arity: .exactly(1), kind: .size),
        DirectiveSpec(name: "imap_capabilities", contexts: .mailAndServer, arity: .oneOrMore, kind: .words),
        DirectiveSpec(name: "imap_auth", contexts: .mailAndServer, arity: .oneOrMore,
                      kind: .bitmask(["plain", "login", "cram-md5", "external"])),
        // ngx_mail_pop3_module
        DirectiveSpec(name: "pop3_capabilities", contexts: .mailAndServer, arity: .oneOrMore, kind: .words),
        DirectiveSpec(name: "pop3_auth", contexts: .mailAndServer, arity: .oneOrMore,
                      kind: .bitmask(["plain", "apop", "cram-md5", "external"])),
        // ngx_mail_smtp_module
        DirectiveSpec(name: "smtp_client_buffer", contexts: .mailAndServer, arity: .exactly(1), kind: .size),
        DirectiveSpec(name: "smtp_greeting_delay", contexts: .mailAndServer, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "smtp_capabilities", contexts: .mailAndServer, arity: .oneOrMore, kind: .words),
        DirectiveSpec(name: "smtp_auth", contexts: .mailAndServer, arity: .oneOrMore,
                      kind: .bitmask(["plain", "login", "cram-md5", "external", "none"])),
    ]

    /// Postern's own, named in nginx's style. The pool sizes are per process,
    /// so they live in `mail` only; the cache and line bound may differ per server.
    static let posternDirectives: [DirectiveSpec] = [
        DirectiveSpec(name: "auth_cache", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "auth_cache_ttl", contexts: .mailAndServer, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "auth_cache_fail_ttl", contexts: .mailAndServer, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "auth_cache_client_prefix", contexts: .mailAndServer, arity: .oneOrTwo, kind: .words),
        DirectiveSpec(name: "auth_throttle_failures", contexts: .mailAndServer, arity: .exactly(1), kind: .number),
        DirectiveSpec(name: "auth_throttle_window", contexts: .mailAndServer, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "auth_throttle_ban", contexts: .mailAndServer, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "auth_ledger_retention", contexts: .mailAndServer, arity: .exactly(1), kind: .msec),
        DirectiveSpec(name: "session_pool_threads", contexts: .mail, arity: .exactly(1), kind: .number),
        DirectiveSpec(name: "session_pool_queue", contexts: .mail, arity: .exactly(1), kind: .number),
        DirectiveSpec(name: "relay_threads", contexts: .mail, arity: .exactly(1), kind: .number),
        DirectiveSpec(name: "max_line_length", contexts: .mailAndServer, arity: .exactly(1), kind: .size),
        // TLS to the backend, named as ngx_stream_proxy_module's proxy_ssl_* directives.
        DirectiveSpec(name: "proxy_ssl", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "proxy_ssl_verify", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "proxy_ssl_verify_depth", contexts: .mailAndServer, arity: .exactly(1), kind: .number),
        DirectiveSpec(name: "proxy_ssl_trusted_certificate", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "proxy_ssl_name", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "proxy_ssl_server_name", contexts: .mailAndServer, arity: .exactly(1), kind: .flag),
        DirectiveSpec(name: "proxy_ssl_protocols", contexts: .mailAndServer, arity: .oneOrMore,
                      kind: .bitmask(["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"])),
        DirectiveSpec(name: "proxy_ssl_ciphers", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "proxy_ssl_certificate", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "proxy_ssl_certificate_key", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
        DirectiveSpec(name: "proxy_ssl_password_file", contexts: .mailAndServer, arity: .exactly(1), kind: .string),
    ]
}
