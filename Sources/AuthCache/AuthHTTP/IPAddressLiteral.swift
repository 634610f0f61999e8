/// Address literals as nginx's `ngx_parse_addr` accepts them for
/// Auth-Server: dotted-quad IPv4 (each part 0-255, leading zeros allowed) or
/// an IPv6 address without brackets (`::`, embedded IPv4 allowed).
func isIPAddressLiteral(_ bytes: [UInt8]) -> Bool {
    isIPv4Literal(bytes[...]) || isIPv6Literal(bytes)
}

private func isIPv4Literal(_ bytes: ArraySlice<UInt8>) -> Bool {
    let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    guard parts.count == 4 else { return false }
    for part in parts {
        guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
        guard part.reduce(0, { $0 * 10 + Int($1 - 0x30) }) <= 255 else { return false }
    }
    return true
}

private func isHexDigit(_ b: UInt8) -> Bool {
    (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "f"))
}

/// RFC 4291 §2.2 text forms: eight groups of 1-4 hex digits, one `::`
/// standing for one or more zero groups, and an optional trailing IPv4.
private func isIPv6Literal(_ bytes: [UInt8]) -> Bool {
    guard bytes.count >= 2, bytes.count <= 45 else { return false }
    let text = bytes[...]
    let colon = UInt8(ascii: ":")
    var head = text
    var tail: ArraySlice<UInt8> = []
    var compressed = false
    if let range = firstDoubleColon(text) {
        compressed = true
        head = text[text.startIndex..<range]
        tail = text[(range + 2)...]
        if firstDoubleColon(tail) != nil { return false }
    }
    func groups(_ part: ArraySlice<UInt8>, allowIPv4Last: Bool) -> Int? {
        if part.isEmpty { return 0 }
        let pieces = part.split(separator: colon, omittingEmptySubsequences: false)
        var count = 0
        for (i, piece) in pieces.enumerated() {
            if allowIPv4Last, i == pieces.count - 1, piece.contains(UInt8(ascii: ".")) {
                guard isIPv4Literal(piece) else { return nil }
                count += 2
            } else {
                guard !piece.isEmpty, piece.count <= 4, piece.allSatisfy(isHexDigit) else { return nil }
                count += 1
            }
        }
        return count
    }
    guard let headCount = groups(head, allowIPv4Last: !compressed),
          let tailCount = groups(tail, allowIPv4Last: true) else { return false }
    let total = headCount + tailCount
    return compressed ? total <= 7 : total == 8
}

private func firstDoubleColon(_ bytes: ArraySlice<UInt8>) -> Int? {
    var i = bytes.startIndex
    while i + 1 < bytes.endIndex {
        if bytes[i] == UInt8(ascii: ":") && bytes[i + 1] == UInt8(ascii: ":") { return i }
        i += 1
    }
    return nil
}
