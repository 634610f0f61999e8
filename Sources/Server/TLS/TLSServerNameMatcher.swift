/// Picks a server by the SNI name, with nginx's server_name precedence:
/// an exact name (case-insensitive), then the longest leading wildcard
/// (`*.example.org`, or `.example.org` which also matches `example.org`), then
/// the longest trailing wildcard (`mail.*`). Regular expressions are not supported.
struct TLSServerNameMatcher: Sendable {
    private var exact: [String: Int] = [:]
    /// Suffix including the dot ("." + "example.org"), plus whether the bare domain matches too.
    private var leading: [(suffix: String, bareToo: Bool, index: Int)] = []
    /// Prefix including the dot ("mail.").
    private var trailing: [(prefix: String, index: Int)] = []

    init(names: [String]) {
        for (index, raw) in names.enumerated() {
            let name = raw.lowercased()
            if name.hasPrefix("*.") {
                leading.append((String(name.dropFirst()), false, index))
            } else if name.hasPrefix(".") && name.count > 1 {
                leading.append((name, true, index))
            } else if name.hasSuffix(".*") {
                trailing.append((String(name.dropLast()), index))
            } else if exact[name] == nil {
                exact[name] = index
            }
        }
        // Longest first; among equals the first configured wins (stable sort).
        leading = leading.enumerated().sorted { ($0.element.suffix.count, -$0.offset) > ($1.element.suffix.count, -$1.offset) }.map(\.element)
        trailing = trailing.enumerated().sorted { ($0.element.prefix.count, -$0.offset) > ($1.element.prefix.count, -$1.offset) }.map(\.element)
    }

    /// The index of the matching name, or nil (the default server then serves).
    func match(_ serverName: String) -> Int? {
        var name = serverName.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if name.isEmpty { return nil }
        if let i = exact[name] { return i }
        for entry in leading {
            if name.hasSuffix(entry.suffix) && name.count > entry.suffix.count { return entry.index }
            if entry.bareToo && name == String(entry.suffix.dropFirst()) { return entry.index }
        }
        for entry in trailing where name.hasPrefix(entry.prefix) && name.count > entry.prefix.count {
            return entry.index
        }
        return nil
    }
}
