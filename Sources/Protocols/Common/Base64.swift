/// RFC 4648 §4 base64, the encoding of every SASL exchange (RFC 4422).
///
/// Decoding is strict about the alphabet and about what follows padding, and
/// returns nil rather than guessing. Like nginx's `ngx_decode_base64`, it
/// accepts input whose padding was left off (some clients omit it), but never
/// a length that cannot come from an encoder (4n+1 characters).
public enum Base64 {
    private static let alphabet: [UInt8] =
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    public static func encode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= input.count {
            let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = input.count - i
        if rest == 1 {
            let n = UInt32(input[i]) << 16
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        } else if rest == 2 {
            let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(UInt8(ascii: "="))
        }
        return out
    }

    public static func encodeString(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: encode(bytes), as: UTF8.self)
    }

    /// Decodes base64; nil on a byte outside the alphabet, data after padding,
    /// wrong padding, or an impossible length.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        let input = Array(text)
        var dataEnd = input.count
        if let firstPad = input.firstIndex(of: UInt8(ascii: "=")) {
            dataEnd = firstPad
            let pads = input.count - firstPad
            // Only "=" may follow the first "=", at most two, and the padded
            // form must then be a whole number of quanta.
            guard pads <= 2, input[firstPad...].allSatisfy({ $0 == UInt8(ascii: "=") }),
                  input.count % 4 == 0 else { return nil }
        }
        guard dataEnd % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(dataEnd / 4 * 3 + 2)
        var acc: UInt32 = 0
        var bits = 0
        for i in 0..<dataEnd {
            let v = values[Int(input[i])]
            guard v != 0xFF else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits must be zero: otherwise two encodings would decode alike.
        guard acc == 0 else { return nil }
        return out
    }
}
