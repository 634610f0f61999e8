/// The bytes as a String with ASCII letters upper-cased and every other byte
/// left alone: protocol keywords (commands, SASL mechanisms, capability
/// names) compare case-insensitively.
func asciiUppercase(_ bytes: some Sequence<UInt8>) -> String {
    String(decoding: bytes.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 }, as: UTF8.self)
}
