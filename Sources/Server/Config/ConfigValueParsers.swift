/// Milliseconds, the unit of every mail time directive (nginx's ngx_msec_t).
public typealias Milliseconds = Int64

/// nginx's number, size and time syntaxes (`ngx_atoi`, `ngx_parse_size`,
/// `ngx_parse_offset`, `ngx_parse_time`), as pure functions returning nil
/// where nginx returns NGX_ERROR.
enum ConfigValueParser {
    /// Decimal digits only: no sign, no blanks, not empty (`ngx_atoi`).
    static func number(_ text: String) -> Int? {
        guard !text.isEmpty else { return nil }
        var value = 0
        for b in text.utf8 {
            guard b >= 0x30, b <= 0x39 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(b - 0x30))
            if o1 || o2 { return nil }
            value = s
        }
        return value
    }

    /// `N`, `Nk`/`NK`, `Nm`/`NM` in bytes (`ngx_parse_size`); no `g`.
    static func size(_ text: String) -> Int? {
        scaled(text, units: ["k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20])
    }

    /// Like `size` and also `g`/`G` (`ngx_parse_offset`).
    static func offset(_ text: String) -> Int? {
        scaled(text, units: ["k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20,
                             "g": 1 << 30, "G": 1 << 30])
    }

    private static func scaled(_ text: String, units: [Character: Int]) -> Int? {
        guard let last = text.last else { return nil }
        if let scale = units[last] {
            guard let n = number(String(text.dropLast())) else { return nil }
            let (v, o) = n.multipliedReportingOverflow(by: scale)
            return o ? nil : v
        }
        return number(text)
    }

    /// nginx time syntax: components in descending order, each at most once,
    /// e.g. `1h 30m`, `1h30m`, `500ms`, `90`. A bare number is seconds.
    /// In milliseconds (`isSeconds == false`, nginx's msec slots) the year
    /// and month units are refused, as nginx starts that scan at months.
    /// Returns milliseconds or seconds to match `isSeconds`.
    static func time(_ text: String, isSeconds: Bool) -> Int64? {
        // Steps in nginx's order; a unit may only follow a larger one.
        enum Step: Int { case start, year, month, week, day, hour, min, sec, msec, last }
        var step: Step = isSeconds ? .start : .month
        var value: Int64 = 0, total: Int64 = 0
        var valid = false
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c >= 0x30 && c <= 0x39 {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int64(c - 0x30))
                if o1 || o2 { return nil }
                value = s
                valid = true
                i += 1
                continue
            }
            i += 1
            let scale: Int64
            switch c {
            case UInt8(ascii: "y"):
                guard step.rawValue < Step.year.rawValue else { return nil }
                step = .year; scale = 60 * 60 * 24 * 365
            case UInt8(ascii: "M"):
                guard step.rawValue < Step.month.rawValue else { return nil }
                step = .month; scale = 60 * 60 * 24 * 30
            case UInt8(ascii: "w"):
                guard step.rawValue < Step.week.rawValue else { return nil }
                step = .week; scale = 60 * 60 * 24 * 7
            case UInt8(ascii: "d"):
                guard step.rawValue < Step.day.rawValue else { return nil }
                step = .day; scale = 60 * 60 * 24
            case UInt8(ascii: "h"):
                guard step.rawValue < Step.hour.rawValue else { return nil }
                step = .hour; scale = 60 * 60
            case UInt8(ascii: "m"):
                if i < bytes.count && bytes[i] == UInt8(ascii: "s") {
                    if isSeconds || step.rawValue >= Step.msec.rawValue { return nil }
                    i += 1
                    step = .msec; scale = 1
                } else {
                    guard step.rawValue < Step.min.rawValue else { return nil }
                    step = .min; scale = 60
                }
            case UInt8(ascii: "s"):
                guard step.rawValue < Step.sec.rawValue else { return nil }
                step = .sec; scale = 1
            case UInt8(ascii: " "):
                guard step.rawValue < Step.sec.rawValue else { return nil }
                step = .last; scale = 1
            default:
                return nil
            }
            let factor = (step != .msec && !isSeconds) ? scale * 1000 : scale
            let (v, o) = value.multipliedReportingOverflow(by: factor)
            if o { return nil }
            let (t, o2) = total.addingReportingOverflow(v)
            if o2 { return nil }
            total = t
            value = 0
            while i < bytes.count && bytes[i] == UInt8(ascii: " ") { i += 1 }
        }
        guard valid else { return nil }
        if !isSeconds {
            let (v, o) = value.multipliedReportingOverflow(by: 1000)
            if o { return nil }
            value = v
        }
        let (t, o) = total.addingReportingOverflow(value)
        return o ? nil : t
    }

    /// Case-insensitive `on`/`off` (`ngx_conf_set_flag_slot`).
    static func flag(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "on": return true
        case "off": return false
        default: return nil
        }
    }
}
