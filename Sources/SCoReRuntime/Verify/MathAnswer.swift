/// Math answers compared the way MATH graders compare them: both sides are
/// rewritten into one canonical LaTeX spelling, then they match if the
/// spellings are equal, if both are arithmetic with equal values, or if both
/// are tuples/intervals whose brackets match and whose items match in order.
enum MathAnswer {
    static func equivalent(_ attempt: String, _ reference: String, tolerance: Double) -> Bool {
        let a = normalize(attempt), b = normalize(reference)
        guard !a.isEmpty, !b.isEmpty else { return false }
        if a == b { return true }
        if let ta = Tuple(a), let tb = Tuple(b) {
            return ta.open == tb.open && ta.close == tb.close && ta.items.count == tb.items.count
                && zip(ta.items, tb.items).allSatisfy { sameValue($0, $1, tolerance: tolerance) }
        }
        return sameValue(a, b, tolerance: tolerance)
    }

    private static func sameValue(_ a: [UInt8], _ b: [UInt8], tolerance: Double) -> Bool {
        if a == b, !a.isEmpty { return true }
        guard let x = MathExpression.evaluate(a), let y = MathExpression.evaluate(b) else { return false }
        return Verifier.close(x, y, tolerance: tolerance)
    }

    /// The canonical spelling: no spaces, `$`, `\left`/`\right`, thin spaces,
    /// degree signs, percent signs or thousands separators; `\dfrac`/`\tfrac`
    /// become `\frac` and `\frac12` becomes `\frac{1}{2}`; units written as a
    /// trailing `\text{…}` (or `\mbox`, `\mathrm`) are dropped, other text
    /// groups are unwrapped; "x = 5" becomes "5"; trailing periods go.
    static func normalize(_ answer: String) -> [UInt8] {
        var s = Array(answer.utf8)
        for pattern in ["^{\\circ}", "^\\circ", "\u{00B0}"] {
            s = AnswerText.replacing(Array(pattern.utf8), with: [], in: s)
        }
        s = AnswerText.replacing(Array("{,}".utf8), with: [AnswerText.comma], in: s)
        s = rewritingCommands(s)
        s = removingTrailingUnits(s)
        s = rewritingGroups(s)
        s.removeAll(where: AnswerText.isSpace)
        s = Array(AnswerText.trimmingTrailingPeriods(s[...]))
        s = droppingShortLeftHandSide(s)
        s = droppingThousandsSeparators(s)
        if s.first == AnswerText.period { s.insert(UInt8(ascii: "0"), at: 0) }
        return s
    }

    /// Commands that only change how an answer looks.
    private static let invisibleCommands: Set<String> = [
        "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
        "biggl", "biggr", "Biggl", "Biggr", "displaystyle", "textstyle", "quad", "qquad", "degree",
    ]
    /// Control symbols that are spacing, or a literal % or $.
    private static let invisibleSymbols = Array("!,;: %$".utf8)

    /// Drops invisible commands, `$` and `%`; spells every fraction `\frac`.
    private static func rewritingCommands(_ s: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            switch s[i] {
            case AnswerText.dollar, UInt8(ascii: "%"): i += 1; continue
            case UInt8(ascii: "~"): out.append(UInt8(ascii: " ")); i += 1; continue  // a non-breaking space
            case AnswerText.backslash: break
            default: out.append(s[i]); i += 1; continue
            }
            let end = AnswerText.commandEnd(in: s, at: i)
            let name = AnswerText.string(s[(i + 1)..<end])
            let invisible = invisibleCommands.contains(name)
                || (end == i + 2 && invisibleSymbols.contains(s[i + 1]))
                || end == i + 1  // a lone backslash at the end
            if name == "dfrac" || name == "tfrac" {
                out += Array("\\frac".utf8)
            } else if name == "\\" {
                out.append(UInt8(ascii: " "))
            } else if !invisible {
                out += s[i..<end]
            }
            i = end
        }
        return out
    }

    /// Groups whose text is prose or a unit rather than math.
    private static let textCommands: Set<String> = ["text", "textrm", "textnormal", "textup", "textit", "textbf", "mbox", "mathrm"]
    /// Groups that are unwrapped when they stay: formatting around the answer itself.
    private static let unwrappedCommands = textCommands.union(["mathbf", "boxed", "fbox"])

    /// "5\text{ cm}^2" -> "5": a trailing text group after something else is a unit.
    private static func removingTrailingUnits(_ s: [UInt8]) -> [UInt8] {
        var s = s
        let powers = ["^{2}", "^{3}", "^2", "^3"].map { Array($0.utf8) }
        for _ in 0..<8 {
            let end = AnswerText.trimmingTrailingPeriods(s[...]).endIndex
            var close = end - 1
            if let power = powers.first(where: { AnswerText.hasPrefix(s, at: end - $0.count, $0) }) {
                close = end - power.count - 1
            }
            guard close >= 0, s[close] == AnswerText.closeBrace,
                  let open = AnswerText.openingBrace(in: s, closingAt: close),
                  let commandStart = textCommandStart(s, before: open),
                  !AnswerText.trimmed(s[..<commandStart]).isEmpty
            else { break }
            s.removeSubrange(commandStart...)
        }
        return s
    }

    /// Where `\text` (or another text command) starts if it directly precedes the brace at `open`.
    private static func textCommandStart(_ s: [UInt8], before open: Int) -> Int? {
        var j = open
        while j > 0, AnswerText.isSpace(s[j - 1]) { j -= 1 }
        var k = j
        while k > 0, AnswerText.isLetter(s[k - 1]) { k -= 1 }
        guard k > 0, s[k - 1] == AnswerText.backslash, textCommands.contains(AnswerText.string(s[k..<j])) else {
            return nil
        }
        return k - 1
    }

    /// Unwraps text and box groups and writes `\frac`/`\sqrt` shorthand in full:
    /// `\frac12` -> `\frac{1}{2}`, `\frac{1}2` -> `\frac{1}{2}`, `\sqrt2` -> `\sqrt{2}`.
    /// One pass with a stack of open groups, so deep nesting costs no recursion.
    private static func rewritingGroups(_ s: [UInt8]) -> [UInt8] {
        enum Group { case kept, unwrapped, numerator }
        var out: [UInt8] = []
        out.reserveCapacity(s.count + 8)
        var groups: [Group] = []
        var i = 0
        while i < s.count {
            let b = s[i]
            if b == AnswerText.backslash {
                let end = AnswerText.commandEnd(in: s, at: i)
                let name = AnswerText.string(s[(i + 1)..<end])
                let argument = skippingSpaces(s, from: end)
                if name == "frac" || name == "sqrt" {
                    out += s[i..<end]
                    i = argument
                    if name == "frac", i < s.count, s[i] == AnswerText.openBrace {
                        groups.append(.numerator)
                        out.append(AnswerText.openBrace)
                        i += 1
                    } else if i < s.count, s[i] != AnswerText.openBrace, s[i] != UInt8(ascii: "[") {
                        i = appendingAsGroup(s, atomAt: i, to: &out)
                        if name == "frac" {
                            i = appendingAsGroup(s, atomAt: skippingSpaces(s, from: i), to: &out)
                        }
                    }
                    continue
                }
                if unwrappedCommands.contains(name), argument < s.count, s[argument] == AnswerText.openBrace {
                    groups.append(.unwrapped)
                    i = argument + 1
                    continue
                }
                out += s[i..<end]
                i = end
                continue
            }
            if b == AnswerText.openBrace {
                groups.append(.kept)
                out.append(b)
                i += 1
                continue
            }
            if b == AnswerText.closeBrace {
                let group = groups.popLast() ?? .kept
                i += 1
                if group != .unwrapped { out.append(b) }
                if group == .numerator { i = appendingAsGroup(s, atomAt: skippingSpaces(s, from: i), to: &out) }
                continue
            }
            out.append(b)
            i += 1
        }
        return out
    }

    private static func skippingSpaces(_ s: [UInt8], from i: Int) -> Int {
        var j = i
        while j < s.count, AnswerText.isSpace(s[j]) { j += 1 }
        return j
    }

    /// Writes the one-token argument at `i` (a character or a command) as `{…}`;
    /// a brace (a real group follows) or the end is left alone.
    private static func appendingAsGroup(_ s: [UInt8], atomAt i: Int, to out: inout [UInt8]) -> Int {
        guard i < s.count, s[i] != AnswerText.openBrace, s[i] != AnswerText.closeBrace else { return i }
        let end = s[i] == AnswerText.backslash ? AnswerText.commandEnd(in: s, at: i) : AnswerText.characterEnd(in: s, at: i)
        out.append(AnswerText.openBrace)
        out += s[i..<end]
        out.append(AnswerText.closeBrace)
        return end
    }

    /// "x=5" -> "5", "k=-2" -> "-2": a name of at most two characters before the only "=".
    private static func droppingShortLeftHandSide(_ s: [UInt8]) -> [UInt8] {
        let equals = s.indices.filter { s[$0] == UInt8(ascii: "=") }
        guard equals.count == 1, let e = equals.first, e <= 2 else { return s }
        return Array(s[(e + 1)...])
    }

    /// "1,234,567.5" -> "1234567.5", only when the whole answer is one such number
    /// (in "(1,234)" the comma separates items).
    private static func droppingThousandsSeparators(_ s: [UInt8]) -> [UInt8] {
        var i = 0
        if i < s.count, s[i] == AnswerText.minus || s[i] == AnswerText.plus { i += 1 }
        let lead = i
        while i < s.count, AnswerText.isDigit(s[i]) { i += 1 }
        guard i - lead >= 1, i - lead <= 3 else { return s }
        var groups = 0
        while i + 3 < s.count, s[i] == AnswerText.comma,
              AnswerText.isDigit(s[i + 1]), AnswerText.isDigit(s[i + 2]), AnswerText.isDigit(s[i + 3]) {
            i += 4
            groups += 1
        }
        guard groups > 0 else { return s }
        if i + 1 < s.count, s[i] == AnswerText.period, AnswerText.isDigit(s[i + 1]) {
            i += 1
            while i < s.count, AnswerText.isDigit(s[i]) { i += 1 }
        }
        guard i == s.count else { return s }
        return s.filter { $0 != AnswerText.comma }
    }

    /// "(1,2)", "[0,1)" or a bare "1,2": items split at top-level commas.
    private struct Tuple {
        var open: UInt8?
        var close: UInt8?
        var items: [[UInt8]]

        init?(_ s: [UInt8]) {
            var inner = s[...]
            if s.count >= 2, Array("([".utf8).contains(s[0]), Array(")]".utf8).contains(s[s.count - 1]),
               Self.bracketsEncloseAll(s) {
                open = s[0]
                close = s[s.count - 1]
                inner = s[1..<(s.count - 1)]
            }
            var items: [[UInt8]] = []
            var depth = 0
            var current: [UInt8] = []
            for b in inner {
                if Self.opens(b) { depth += 1 }
                if Self.closes(b) { depth -= 1 }
                if b == AnswerText.comma, depth == 0 {
                    items.append(current)
                    current = []
                } else {
                    current.append(b)
                }
            }
            items.append(current)
            guard items.count >= 2 else { return nil }
            self.items = items
        }

        private static func opens(_ b: UInt8) -> Bool { b == UInt8(ascii: "(") || b == UInt8(ascii: "[") || b == AnswerText.openBrace }
        private static func closes(_ b: UInt8) -> Bool { b == UInt8(ascii: ")") || b == UInt8(ascii: "]") || b == AnswerText.closeBrace }

        /// Whether the first bracket closes only at the last byte: "(1,2)" yes, "(1)+(2)" no.
        private static func bracketsEncloseAll(_ s: [UInt8]) -> Bool {
            var depth = 1
            for b in s[1..<(s.count - 1)] {
                if opens(b) { depth += 1 }
                if closes(b) { depth -= 1 }
                if depth == 0 { return false }
            }
            return true
        }
    }
}
