/// Byte-level helpers shared by the verifiers.
///
/// Answers are handled as UTF-8 bytes: every piece of syntax the verifiers
/// look for is ASCII, so cutting at those bytes never splits a character.
enum AnswerText {
    static let backslash = UInt8(ascii: "\\")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let dollar = UInt8(ascii: "$")
    static let period = UInt8(ascii: ".")
    static let comma = UInt8(ascii: ",")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let newline = UInt8(ascii: "\n")

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
    static func lowercased(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    static func string<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `s[i...]` starts with `prefix`, comparing ASCII letters case-insensitively if asked.
    static func hasPrefix(_ s: [UInt8], at i: Int, _ prefix: [UInt8], ignoringCase: Bool = false) -> Bool {
        guard i >= 0, prefix.count <= s.count - i else { return false }
        for k in 0..<prefix.count {
            let a = s[i + k], b = prefix[k]
            if ignoringCase ? lowercased(a) != lowercased(b) : a != b { return false }
        }
        return true
    }

    /// The index of the last occurrence of `needle` in `s`, if any.
    static func lastIndex(of needle: [UInt8], in s: [UInt8], ignoringCase: Bool = false) -> Int? {
        guard !needle.isEmpty, needle.count <= s.count else { return nil }
        for i in stride(from: s.count - needle.count, through: 0, by: -1)
        where hasPrefix(s, at: i, needle, ignoringCase: ignoringCase) {
            return i
        }
        return nil
    }

    /// The index of the first occurrence of `needle` in `s`, if any.
    static func firstIndex(of needle: [UInt8], in s: [UInt8], ignoringCase: Bool = false) -> Int? {
        guard !needle.isEmpty, needle.count <= s.count else { return nil }
        for i in 0...(s.count - needle.count) where hasPrefix(s, at: i, needle, ignoringCase: ignoringCase) {
            return i
        }
        return nil
    }

    /// `s` with every occurrence of `pattern` replaced.
    static func replacing(_ pattern: [UInt8], with replacement: [UInt8], in s: [UInt8]) -> [UInt8] {
        guard !pattern.isEmpty, s.count >= pattern.count else { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == pattern[0], hasPrefix(s, at: i, pattern) {
                out += replacement
                i += pattern.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// `s` without leading and trailing ASCII whitespace.
    static func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lo = s.startIndex, hi = s.endIndex
        while lo < hi, isSpace(s[lo]) { lo += 1 }
        while hi > lo, isSpace(s[hi - 1]) { hi -= 1 }
        return s[lo..<hi]
    }

    /// `s` without trailing whitespace and periods: "5." and "5 ." end sentences, not numbers.
    static func trimmingTrailingPeriods(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var hi = s.endIndex
        while hi > s.startIndex, isSpace(s[hi - 1]) || s[hi - 1] == period { hi -= 1 }
        return s[s.startIndex..<hi]
    }

    /// The index of the `}` that closes the `{` at `open`, skipping escaped braces `\{` `\}`.
    static func closingBrace(in s: [UInt8], openingAt open: Int) -> Int? {
        var depth = 0
        var i = open
        while i < s.count {
            switch s[i] {
            case backslash: i += 1
            case openBrace: depth += 1
            case closeBrace:
                depth -= 1
                if depth == 0 { return i }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// The index of the `{` that opens the `}` at `close`, skipping escaped braces.
    static func openingBrace(in s: [UInt8], closingAt close: Int) -> Int? {
        var depth = 0
        var i = close
        while i >= 0 {
            let escaped = i > 0 && s[i - 1] == backslash
            if !escaped {
                if s[i] == closeBrace { depth += 1 }
                if s[i] == openBrace {
                    depth -= 1
                    if depth == 0 { return i }
                }
            }
            i -= 1
        }
        return nil
    }

    /// The end of the LaTeX command whose backslash is at `i`: after its letters
    /// (`\frac`), or after the one symbol of a control symbol (`\{`, `\,`).
    static func commandEnd(in s: [UInt8], at i: Int) -> Int {
        var j = i + 1
        guard j < s.count else { return j }
        guard isLetter(s[j]) else { return j + 1 }
        while j < s.count, isLetter(s[j]) { j += 1 }
        return j
    }

    /// The end of the whole UTF-8 character that starts at `i`.
    static func characterEnd(in s: [UInt8], at i: Int) -> Int {
        var j = i + 1
        while j < s.count, s[j] & 0xC0 == 0x80 { j += 1 }
        return j
    }
}
