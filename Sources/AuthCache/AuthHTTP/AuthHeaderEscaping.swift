/// Escaping of auth_http request header values.
///
/// nginx escapes Auth-User, Auth-Pass and Auth-SSL-Cert with
/// `ngx_escape_uri(..., NGX_ESCAPE_MAIL_AUTH)`: every byte 0x00-0x1F, the
/// space and `%` become `%XX` (upper-case hex); everything else, including
/// bytes >= 0x80, goes raw. Postern escapes DEL (0x7F) too, so no control
/// byte of any kind reaches a header (an auth service that URL-decodes, as
/// nginx's documentation tells it to, sees the same value either way).
///
/// nginx sends the other client-influenced values (SMTP HELO/MAIL/RCPT,
/// Client-Host, certificate names) raw. Postern keeps them readable the
/// same way, so existing auth scripts parse them unchanged, but still
/// escapes their control bytes: a CR, LF or NUL can never split or cut a
/// header (nginx relies on its parsers never letting one through).
enum AuthHeaderEscaping {
    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// True for the bytes nginx's mail_auth table escapes, plus DEL.
    static func isEscapedInCredential(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte == UInt8(ascii: "%") || byte == 0x7F
    }

    /// True for control bytes: escaped even in values nginx sends raw.
    static func isControl(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F
    }

    /// `%XX`-escapes login, password and certificate bytes.
    static func escapeCredential(_ bytes: [UInt8]) -> [UInt8] {
        escape(bytes, where: isEscapedInCredential)
    }

    /// `%XX`-escapes only control bytes, leaving spaces and `%` as nginx does.
    static func escapeControls(_ bytes: [UInt8]) -> [UInt8] {
        escape(bytes, where: isControl)
    }

    static func escapeControls(_ text: String) -> [UInt8] {
        escapeControls(Array(text.utf8))
    }

    /// Appends `bytes` to `out`, escaping those `needsEscape` picks.
    static func appendEscaped<Bytes: Sequence<UInt8>>(_ bytes: Bytes, to out: inout [UInt8],
                                                      where needsEscape: (UInt8) -> Bool) {
        for byte in bytes {
            if needsEscape(byte) {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
    }

    private static func escape(_ bytes: [UInt8], where needsEscape: (UInt8) -> Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        appendEscaped(bytes, to: &out, where: needsEscape)
        return out
    }
}

/// nginx's escaping of Auth-User / Auth-Pass values (plus DEL), for callers
/// that need to show or compare what the auth service receives.
public func authHTTPEscapeCredential(_ bytes: [UInt8]) -> [UInt8] {
    AuthHeaderEscaping.escapeCredential(bytes)
}
