/// xtext (RFC 3461 §4): printable US-ASCII except "+" and "=" as is, every
/// other byte as "+XX" (upper-case hex). XCLIENT attribute values use it,
/// so a login cannot add attributes or end the command line.
public enum Xtext {
    public static func encode(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in bytes {
            if b > 0x20 && b < 0x7F && b != UInt8(ascii: "+") && b != UInt8(ascii: "=") {
                out.append(b)
            } else {
                out += [UInt8(ascii: "+"), hex[Int(b >> 4)], hex[Int(b & 0x0F)]]
            }
        }
        return out
    }
}
