extension Array where Element == UInt8 {
    /// Removes and returns the first line (without its LF or CRLF), or nil
    /// while no LF has arrived. SASL response lines in POP3 and SMTP are read
    /// this way; commands go through their protocol's parser instead.
    mutating func takeLine() -> [UInt8]? {
        guard let lf = firstIndex(of: 0x0A) else { return nil }
        var line = Array(self[..<lf])
        if line.last == 0x0D { line.removeLast() }
        removeFirst(lf + 1)
        return line
    }
}
