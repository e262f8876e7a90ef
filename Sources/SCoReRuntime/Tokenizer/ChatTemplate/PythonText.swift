/// Python's text semantics, which jinja2 inherits and templates depend on:
/// what counts as whitespace for `strip()`/`split()`, how `title()` and
/// `capitalize()` change case, and how `str()`/`repr()` print values.
enum PythonText {
    /// `str.isspace()` for one code point (also `\s` in Python's `re`).
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    static func strip(_ s: String, _ chars: String? = nil, leading: Bool = true, trailing: Bool = true) -> String {
        let set = chars.map { Set($0.unicodeScalars.map(\.value)) }
        func removable(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c.value) } ?? isSpace(c) }
        let scalars = s.unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        if leading { while start < end, removable(scalars[start]) { start = scalars.index(after: start) } }
        if trailing {
            while end > start {
                let before = scalars.index(before: end)
                if !removable(scalars[before]) { break }
                end = before
            }
        }
        if start == scalars.startIndex && end == scalars.endIndex { return s }
        return String(scalars[start..<end])
    }

    /// `str.split()` / `str.split(sep, maxsplit)`.
    static func split(_ s: String, separator: String?, maxSplit: Int = -1) throws -> [String] {
        if let separator {
            guard !separator.isEmpty else { throw JinjaError(.value, "empty separator") }
            var parts: [String] = []
            var rest = Substring(s)
            while maxSplit < 0 || parts.count < maxSplit, let r = findScalars(separator, in: rest) {
                parts.append(String(rest[..<r.lowerBound]))
                rest = rest[r.upperBound...]
            }
            parts.append(String(rest))
            return parts
        }
        var parts: [String] = []
        let scalars = s.unicodeScalars
        var i = scalars.startIndex
        while i < scalars.endIndex {
            while i < scalars.endIndex, isSpace(scalars[i]) { i = scalars.index(after: i) }
            if i == scalars.endIndex { break }
            if maxSplit >= 0 && parts.count == maxSplit {
                var end = scalars.endIndex
                while end > i, isSpace(scalars[scalars.index(before: end)]) { end = scalars.index(before: end) }
                parts.append(String(scalars[i..<end]))
                break
            }
            let start = i
            while i < scalars.endIndex, !isSpace(scalars[i]) { i = scalars.index(after: i) }
            parts.append(String(scalars[start..<i]))
        }
        return parts
    }

    /// `str.rsplit(sep, maxsplit)` with an explicit separator.
    static func rsplit(_ s: String, separator: String, maxSplit: Int) throws -> [String] {
        guard maxSplit >= 0 else { return try split(s, separator: separator) }
        var parts = try split(s, separator: separator)
        while parts.count > maxSplit + 1 {
            let a = parts.removeFirst()
            parts[0] = a + separator + parts[0]
        }
        return parts
    }

    /// The range of the first occurrence of `needle` comparing code points.
    static func findScalars(_ needle: String, in haystack: Substring) -> Range<Substring.Index>? {
        let n = Array(needle.utf8)
        let h = haystack.utf8
        guard !n.isEmpty, h.count >= n.count else { return n.isEmpty ? haystack.startIndex..<haystack.startIndex : nil }
        var i = h.startIndex
        let first = n[0]
        while i < h.endIndex {
            if h[i] == first {
                var j = i
                var k = 0
                while k < n.count, j < h.endIndex, h[j] == n[k] { j = h.index(after: j); k += 1 }
                if k == n.count { return i..<j }
            }
            i = h.index(after: i)
        }
        return nil
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int = -1) -> String {
        if old.isEmpty {
            // Python inserts `new` between every code point (and at both ends).
            var out = new
            var n = 0
            for c in s.unicodeScalars {
                out.unicodeScalars.append(c)
                n += 1
                if count < 0 || n < count { out += new }
            }
            return out
        }
        var out = ""
        var rest = Substring(s)
        var n = 0
        while count < 0 || n < count, let r = findScalars(old, in: rest) {
            out += rest[..<r.lowerBound]
            out += new
            rest = rest[r.upperBound...]
            n += 1
        }
        out += rest
        return out
    }

    static func isCased(_ c: Unicode.Scalar) -> Bool {
        c.properties.isLowercase || c.properties.isUppercase || c.properties.generalCategory == .titlecaseLetter
    }

    /// `str.title()`: a cased character after another cased one is lowered,
    /// any other is title-cased.
    static func title(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s.unicodeScalars {
            out += previousCased ? c.properties.lowercaseMapping : c.properties.titlecaseMapping
            previousCased = isCased(c)
        }
        return out
    }

    /// `str.capitalize()`: first character title-cased, the rest lowered.
    static func capitalize(_ s: String) -> String {
        var out = ""
        var first = true
        for c in s.unicodeScalars {
            out += first ? c.properties.titlecaseMapping : c.properties.lowercaseMapping
            first = false
        }
        return out
    }

    static func upper(_ s: String) -> String { s.uppercased() }
    static func lower(_ s: String) -> String { s.lowercased() }

    /// `str.splitlines()`.
    static func splitLines(_ s: String) -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        var pendingCR = false
        for c in s.unicodeScalars {
            if pendingCR {
                pendingCR = false
                if c == "\n" { continue }
            }
            switch c.value {
            case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                lines.append(String(current))
                current = String.UnicodeScalarView()
                pendingCR = c == "\r"
            default:
                current.append(c)
            }
        }
        if !current.isEmpty { lines.append(String(current)) }
        return lines
    }

    // MARK: printing

    /// `repr(float)`: the shortest text that reads back to the same value,
    /// in fixed notation for exponents -4 ..< 16 and scientific otherwise.
    static func floatRepr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        // Swift's description also prints the shortest round-trip digits;
        // only the layout differs, so re-layout its digits Python's way.
        var text = d.description
        var sign = ""
        if text.hasPrefix("-") { sign = "-"; text.removeFirst() }
        var mantissa = text
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(text[..<e])
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var digits = mantissa
        var pointPosition = mantissa.count
        if let dot = mantissa.firstIndex(of: ".") {
            pointPosition = mantissa.distance(from: mantissa.startIndex, to: dot)
            digits.remove(at: digits.index(digits.startIndex, offsetBy: pointPosition))
        }
        // value = 0.DIGITS * 10^decpt, with DIGITS free of leading/trailing zeros
        var decpt = pointPosition + exponent
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); decpt -= 1 }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        if digits == "0" { return sign + "0.0" }
        let n = digits.count
        if decpt > -4 && decpt <= 16 {
            if decpt <= 0 { return sign + "0." + String(repeating: "0", count: -decpt) + digits }
            if decpt >= n { return sign + digits + String(repeating: "0", count: decpt - n) + ".0" }
            let split = digits.index(digits.startIndex, offsetBy: decpt)
            return sign + digits[..<split] + "." + digits[split...]
        }
        let e = decpt - 1
        let lead = String(digits.prefix(1))
        let rest = digits.dropFirst()
        let exp = (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
        return sign + lead + (rest.isEmpty ? "" : "." + rest) + "e" + exp
    }

    static func isPrintable(_ c: Unicode.Scalar) -> Bool {
        if c == " " { return true }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    /// `repr(str)`.
    static func stringRepr(_ s: String) -> String {
        let hasSingle = s.unicodeScalars.contains("'")
        let hasDouble = s.unicodeScalars.contains("\"")
        let quote: Unicode.Scalar = hasSingle && !hasDouble ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for c in s.unicodeScalars {
            switch c {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            default:
                if c == quote {
                    out.append("\\")
                    out.append(c)
                } else if isPrintable(c) {
                    out.append(c)
                } else {
                    out.append(contentsOf: hexEscape(c).unicodeScalars)
                }
            }
        }
        out.append(quote)
        return String(out)
    }

    static func hexEscape(_ c: Unicode.Scalar) -> String {
        let v = c.value
        let (prefix, width) = v < 0x100 ? ("\\x", 2) : v < 0x10000 ? ("\\u", 4) : ("\\U", 8)
        let hex = String(v, radix: 16)
        return prefix + String(repeating: "0", count: max(0, width - hex.count)) + hex
    }
}
