/// A directive's checked value, as the generic nginx slot kinds store it.
enum SlotValue: Equatable {
    case flag(Bool)
    case time(Int64)
    case bytes(Int)
    case number(Int)
    case string(String)
    /// str_array and capability-style lists, accumulated across occurrences.
    case strings([String])
    /// key/value pairs, accumulated.
    case pairs([[String]])
    /// The canonical spelling of an enum value.
    case choice(String)
    /// Canonical spellings of bitmask values, in first-seen order.
    case choices([String])
}

struct Slot: Equatable {
    var value: SlotValue
    var location: ConfigLocation
}

/// The values one block (main+events, mail, or a server) set itself, before
/// inheritance. Custom directives keep typed fields.
struct ScopeValues {
    var slots: [String: Slot] = [:]
    var errorLogs: [ErrorLogSpec]?
    /// nil: not given; `.some(nil)`: `resolver off`.
    var resolver: ResolverSettings??
    var authHTTP: AuthHTTPURL?
    var realIPFrom: [ConfigCIDR]?
    var sslSessionCache: SSLSessionCache?

    func flag(_ name: String) -> Bool? {
        if case .flag(let v)? = slots[name]?.value { return v }
        return nil
    }
    func time(_ name: String) -> Int64? {
        if case .time(let v)? = slots[name]?.value { return v }
        return nil
    }
    func bytes(_ name: String) -> Int? {
        if case .bytes(let v)? = slots[name]?.value { return v }
        return nil
    }
    func number(_ name: String) -> Int? {
        if case .number(let v)? = slots[name]?.value { return v }
        return nil
    }
    func string(_ name: String) -> String? {
        if case .string(let v)? = slots[name]?.value { return v }
        return nil
    }
    func strings(_ name: String) -> [String]? {
        if case .strings(let v)? = slots[name]?.value { return v }
        return nil
    }
    func pairs(_ name: String) -> [[String]]? {
        if case .pairs(let v)? = slots[name]?.value { return v }
        return nil
    }
    func choice(_ name: String) -> String? {
        if case .choice(let v)? = slots[name]?.value { return v }
        return nil
    }
    func choices(_ name: String) -> [String]? {
        if case .choices(let v)? = slots[name]?.value { return v }
        return nil
    }

    /// Applies one generic directive the way its nginx slot function does.
    /// Returns the error message (without location) or nil; warnings go to `warn`.
    mutating func apply(_ spec: DirectiveSpec, _ args: [String], at location: ConfigLocation,
                        warn: (String) -> Void) -> String? {
        let name = spec.name
        let duplicate = "\"\(name)\" directive is duplicate"
        let invalidValue = "\"\(name)\" directive invalid value"
        func setOnce(_ value: SlotValue?, _ invalid: String) -> String? {
            if slots[name] != nil { return duplicate }
            guard let value else { return invalid }
            slots[name] = Slot(value: value, location: location)
            return nil
        }
        switch spec.kind {
        case .flag:
            if slots[name] != nil { return duplicate }
            guard let v = ConfigValueParser.flag(args[0]) else {
                return "invalid value \"\(args[0])\" in \"\(name)\" directive, it must be \"on\" or \"off\""
            }
            slots[name] = Slot(value: .flag(v), location: location)
            return nil
        case .msec:
            return setOnce(ConfigValueParser.time(args[0], isSeconds: false).map { .time($0) }, invalidValue)
        case .sec:
            return setOnce(ConfigValueParser.time(args[0], isSeconds: true).map { .time($0) }, invalidValue)
        case .size:
            return setOnce(ConfigValueParser.size(args[0]).map { .bytes($0) }, invalidValue)
        case .offset:
            return setOnce(ConfigValueParser.offset(args[0]).map { .bytes($0) }, invalidValue)
        case .number:
            return setOnce(ConfigValueParser.number(args[0]).map { .number($0) }, "\"\(name)\" directive invalid number")
        case .string:
            return setOnce(.string(args[0]), invalidValue)
        case .stringList, .words:
            let old = strings(name) ?? []
            slots[name] = Slot(value: .strings(old + args), location: slots[name]?.location ?? location)
            return nil
        case .keyValues:
            let old = pairs(name) ?? []
            slots[name] = Slot(value: .pairs(old + [args]), location: slots[name]?.location ?? location)
            return nil
        case .enumeration(let allowed):
            if slots[name] != nil { return duplicate }
            guard let match = allowed.first(where: { $0.lowercased() == args[0].lowercased() }) else {
                return "invalid value \"\(args[0])\""
            }
            slots[name] = Slot(value: .choice(match), location: location)
            return nil
        case .bitmask(let allowed):
            var current = choices(name) ?? []
            for arg in args {
                guard let match = allowed.first(where: { $0.lowercased() == arg.lowercased() }) else {
                    return "invalid value \"\(arg)\""
                }
                if current.contains(match) {
                    warn("duplicate value \"\(arg)\"")
                } else {
                    current.append(match)
                }
            }
            slots[name] = Slot(value: .choices(current), location: slots[name]?.location ?? location)
            return nil
        case .custom, .block:
            return nil
        }
    }
}
