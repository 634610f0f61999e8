/// An ASCII letter upper-cased; every other byte as it is.
func asciiUpper(_ byte: UInt8) -> UInt8 {
    (0x61...0x7A).contains(byte) ? byte - 0x20 : byte
}

/// The bytes as a String with ASCII letters upper-cased and every other byte
/// left alone: protocol keywords (commands, SASL mechanisms, capability
/// names) compare case-insensitively.
func asciiUppercase(_ bytes: some Sequence<UInt8>) -> String {
    String(decoding: bytes.map(asciiUpper), as: UTF8.self)
}
