/// Finds the answer in a model's text the way math-verify's `parse` does
/// (its default LaTeX and expression extraction), so a reward means the
/// same here as in verl, TRL or open-r1.
///
/// Candidates come in priority groups; the first group with a readable
/// candidate decides, and inside a group the candidate that ends last wins:
///  0. "final answer is … I hope": the paper's closing sentence;
///  1. "final answer … is …", and `\boxed{…}` / `\fbox{…}` (the last box);
///  2. "answer: …" followed by math or a number within 50 characters;
///  3. "answer … " likewise;
///  4. any math ($…$, $$…$$, \[…\], \(…\), a bare \frac{1}{2}), or a
///     plain number or arithmetic expression standing alone.
/// Math joined by "and", "or" or commas ("$1$ and $2$") is one set answer;
/// a % (or "percent") after it makes a percent.
enum MathExtraction {
    struct Candidate {
        var start: Int
        var end: Int
        var value: MathValue
    }

    /// Only the end of a text is searched: a model's answer is its last
    /// word, and the work stays bounded (a few ms) whatever the length.
    static let searchWindow = 1 << 14

    /// The answer of a model's text, or nil if it has none math-verify would find.
    static func answer(_ text: String) -> MathValue? {
        let s = Array(text.utf8.suffix(searchWindow))
        for group in [finalAnswerHope, finalAnswerIs, answerColon, answerWord, anywhere] {
            let candidates = group(s).sorted { $0.end != $1.end ? $0.end > $1.end : $0.start < $1.start }
            if let first = candidates.first { return first.value }
        }
        return nil
    }

    /// A reference answer: written bare (as MATH's answers are) it is read
    /// whole; a full solution is searched like a model's text.
    static func reference(_ text: String) -> MathValue? {
        let s = Array(text.utf8)
        guard s.count <= MathLexer.maxLength else { return nil }
        let unescapedDollar = s.indices.contains { s[$0] == AnswerText.dollar && ($0 == 0 || s[$0 - 1] != AnswerText.backslash) }
        let marked = unescapedDollar || AnswerText.firstIndex(of: Array("\\boxed".utf8), in: s) != nil
            || AnswerText.firstIndex(of: Array("final answer".utf8), in: s, ignoringCase: true) != nil
        if !marked, let v = MathParser.parse(s) { return v }
        return answer(text)
    }

    // MARK: priority groups

    private static func finalAnswerHope(_ s: [UInt8]) -> [Candidate] {
        var out: [Candidate] = []
        for at in occurrences(of: "final answer is", in: s) {
            let j = skipping(s, from: at + 15, colon: true)
            let hope: (Int) -> Int? = { end in
                var k = end
                if k < s.count, s[k] == AnswerText.period { k += 1 }
                if k < s.count, AnswerText.isSpace(s[k]) { k += 1 }
                return AnswerText.hasPrefix(s, at: k, Bytes.iHope) ? k + 6 : nil
            }
            if let chain = mathChain(s, at: j), let end = hope(chain.end) {
                out.append(Candidate(start: at, end: end, value: chain.value))
                continue
            }
            if let plain = plainAnswer(s, at: j, anchored: true), let end = hope(plain.end) {
                out.append(Candidate(start: at, end: end, value: plain.value))
            }
        }
        return out
    }

    private static func finalAnswerIs(_ s: [UInt8]) -> [Candidate] {
        var out: [Candidate] = []
        for at in occurrences(of: "final answer", in: s) {
            // "final answer" .{0,100}? \s+ "is"
            var k = at + 12
            while k <= min(s.count - 1, at + 12 + 101) {
                if AnswerText.isSpace(s[k]) {
                    var w = k
                    while w < s.count, AnswerText.isSpace(s[w]) { w += 1 }
                    if AnswerText.hasPrefix(s, at: w, Bytes.isWord) {
                        let afterIs = w + 2
                        if let chain = mathChain(s, at: skipping(s, from: afterIs, colon: true)) {
                            out.append(Candidate(start: at, end: chain.end, value: chain.value))
                            break
                        }
                        var p = afterIs
                        if p < s.count, s[p] == UInt8(ascii: ":") { p += 1 }
                        if let plain = plainAnswer(s, at: p) {
                            out.append(Candidate(start: at, end: plain.end, value: plain.value))
                            break
                        }
                    }
                }
                if s[k] == AnswerText.newline { break }
                k += 1
            }
        }
        if let boxed = lastBox(s) { out.append(boxed) }
        return out
    }

    private static func answerColon(_ s: [UInt8]) -> [Candidate] { answerFollowedBy(s, colon: true) }
    private static func answerWord(_ s: [UInt8]) -> [Candidate] { answerFollowedBy(s, colon: false) }

    /// "answer" (":" when `colon`) then, within 50 characters, math or a number.
    private static func answerFollowedBy(_ s: [UInt8], colon: Bool) -> [Candidate] {
        var out: [Candidate] = []
        var searchFrom = 0
        for at in occurrences(of: "answer", in: s) where at >= searchFrom {
            var j = at + 6
            if colon {
                guard j < s.count, s[j] == UInt8(ascii: ":") else { continue }
                j += 1
            }
            var found: Candidate?
            var k = j
            while k <= min(s.count - 1, j + 50), found == nil {
                if let chain = mathChain(s, at: k) {
                    found = Candidate(start: at, end: chain.end, value: chain.value)
                } else if let plain = plainAnswer(s, at: k, anchored: true), !followedByEquals(s, plain.end) {
                    found = Candidate(start: at, end: plain.end, value: plain.value)
                }
                if s[k] == AnswerText.newline { break }
                k += 1
            }
            if let found { out.append(found); searchFrom = found.end }
        }
        return out
    }

    /// Math anywhere, or a plain number or expression: the one ending last
    /// that reads. Math is read only when it is the next in line, so a text
    /// full of `$…$` costs one parse, not one per pair of dollars.
    private static func anywhere(_ s: [UInt8]) -> [Candidate] {
        var spans: [(start: Int, end: Int, plain: MathValue?)] = []
        var k = 0
        while k < s.count {
            if let chain = mathChain(s, at: k, bareFractions: true, read: false) {
                spans.append((k, chain.end, nil))
                k = chain.end
            } else {
                k += 1
            }
        }
        k = 0
        while k < s.count {
            if let plain = plainAnswer(s, at: k, anchored: true) {
                spans.append((k, plain.end, plain.value))
                k = plain.end
            } else {
                k += 1
            }
        }
        spans.sort { $0.end != $1.end ? $0.end > $1.end : $0.start < $1.start }
        for span in spans {
            if let plain = span.plain { return [Candidate(start: span.start, end: span.end, value: plain)] }
            if let chain = mathChain(s, at: span.start, bareFractions: true) {
                return [Candidate(start: span.start, end: chain.end, value: chain.value)]
            }
        }
        return []
    }

    // MARK: math environments

    /// Math at `i`, possibly several joined by "and"/"or"/",", with a percent sign after.
    /// With `read` false only the extent is found (the value is a placeholder).
    private static func mathChain(_ s: [UInt8], at i: Int, bareFractions: Bool = false, read: Bool = true) -> (end: Int, value: MathValue)? {
        guard let first = mathEnvironment(s, at: i, bareFractions: bareFractions, read: read) else { return nil }
        var values = [first.value], end = first.end
        for _ in 0..<5 {
            var k = end
            while k < s.count, AnswerText.isSpace(s[k]) { k += 1 }
            var joined = false
            for word in Bytes.joiners where AnswerText.hasPrefix(s, at: k, word) {
                k += word.count
                joined = true
                break
            }
            guard joined else { break }
            while k < s.count, AnswerText.isSpace(s[k]) { k += 1 }
            guard let next = mathEnvironment(s, at: k, bareFractions: bareFractions, read: read) else { break }
            values.append(next.value)
            end = next.end
        }
        if values.count == 1 { return (end, values[0]) }
        var items: [MathValue] = []
        for v in values { if case .set(let inner) = v { items += inner } else { items.append(v) } }
        return (end, .set(items))
    }

    private static func mathEnvironment(_ s: [UInt8], at i: Int, bareFractions: Bool, read: Bool) -> (end: Int, value: MathValue)? {
        guard i < s.count else { return nil }
        var content: ArraySlice<UInt8>?
        var end = i
        let b = s[i]
        if b == AnswerText.dollar, i == 0 || s[i - 1] != AnswerText.backslash {
            if i + 1 < s.count, s[i + 1] == AnswerText.dollar {
                if let close = find(Bytes.displayDollar, in: s, from: i + 2, unescaped: true) {
                    content = s[(i + 2)..<close]; end = close + 2
                }
            } else if i == 0 || !AnswerText.isDigit(s[i - 1]) {
                var k = i + 1
                let limit = min(s.count, i + 1 + MathLexer.maxLength)
                while k < limit, s[k] != AnswerText.newline,
                      !(s[k] == AnswerText.dollar && s[k - 1] != AnswerText.backslash) { k += 1 }
                if k < limit, s[k] == AnswerText.dollar, k > i + 1 { content = s[(i + 1)..<k]; end = k + 1 }
            }
        } else if b == AnswerText.backslash, i + 1 < s.count, s[i + 1] == UInt8(ascii: "[") || s[i + 1] == UInt8(ascii: "(") {
            let closer = Array((s[i + 1] == UInt8(ascii: "[") ? "\\]" : "\\)").utf8)
            if let close = find(closer, in: s, from: i + 2, unescaped: false) { content = s[(i + 2)..<close]; end = close + 2 }
        } else if bareFractions, b == AnswerText.backslash || b == AnswerText.minus, let f = bareFraction(s, at: i) {
            content = s[i..<f]; end = f
        }
        guard let content, !AnswerText.trimmed(content).isEmpty else { return nil }
        guard var value = read ? readMath(Array(content)) : .set([]) else { return nil }
        // A percent sign after the math: "$25$%" or "$25$ percent".
        var k = end
        while k < s.count, AnswerText.isSpace(s[k]) { k += 1 }
        for word in Bytes.percents where AnswerText.hasPrefix(s, at: k, word) {
            if case .expression(let e, _) = value { value = .expression(e, percent: true) }
            end = k + word.count
            break
        }
        return (end, value)
    }

    /// `-\frac{3}{4}` written outside math delimiters (numbers only).
    private static func bareFraction(_ s: [UInt8], at i: Int) -> Int? {
        var k = i
        if s[k] == AnswerText.minus { k += 1 }
        guard AnswerText.hasPrefix(s, at: k, Bytes.fracOpen) else { return nil }
        k += 6
        for part in 0..<2 {
            if part == 1 { guard k < s.count, s[k] == AnswerText.openBrace else { return nil }; k += 1 }
            if k < s.count, s[k] == AnswerText.minus { k += 1 }
            let digits = k
            while k < s.count, AnswerText.isDigit(s[k]) || s[k] == AnswerText.period || s[k] == AnswerText.comma { k += 1 }
            guard k > digits, k < s.count, s[k] == AnswerText.closeBrace else { return nil }
            k += 1
        }
        return k
    }

    /// The last `\boxed{…}` or `\fbox{…}` of the text.
    private static func lastBox(_ s: [UInt8]) -> Candidate? {
        guard let box = AnswerExtraction.lastBoxed(in: s) else { return nil }
        guard let value = readMath(box.content) else { return nil }
        var end = box.start
        for name in ["\\boxed", "\\fbox"] where AnswerText.hasPrefix(s, at: box.start, Array(name.utf8)) { end += name.count }
        while end < s.count, s[end] != AnswerText.openBrace, AnswerText.isSpace(s[end]) { end += 1 }
        if end < s.count, s[end] == AnswerText.openBrace, let close = AnswerText.closingBrace(in: s, openingAt: end) { end = close + 1 }
        else { end += box.content.count + 1 }
        return Candidate(start: box.start, end: end, value: value)
    }

    /// Math written between delimiters: a box inside wins (`$x = \boxed{5}$` is 5);
    /// a trailing period is punctuation.
    static func readMath(_ content: [UInt8]) -> MathValue? {
        var c = content
        if let inner = AnswerExtraction.lastBoxed(in: c) { c = inner.content }
        var t = AnswerText.trimmed(c[...])
        while t.last == AnswerText.period || t.last == AnswerText.comma { t = AnswerText.trimmed(t.dropLast()) }
        guard !t.isEmpty else { return nil }
        return MathParser.parse(Array(t))
    }

    // MARK: plain numbers and expressions

    private static let currency: [[UInt8]] = ["$", "€", "£", "¥", "₹"].map { Array($0.utf8) }

    /// A number ("1,234.5", "-3", ".5", "25%") or digits-and-operators
    /// expression ("3/4", "2^10") at `i`. `anchored`: only at the start of
    /// the text or after a space or "=" (math-verify's anchors).
    private static func plainAnswer(_ s: [UInt8], at i: Int, anchored: Bool = false) -> (end: Int, value: MathValue)? {
        guard i < s.count else { return nil }
        if anchored, i > 0, !AnswerText.isSpace(s[i - 1]), s[i - 1] != UInt8(ascii: "=") { return nil }
        var k = i
        if AnswerText.hasPrefix(s, at: k, Bytes.doubleStar) { k += 2 }
        if let expression = plainExpression(s, at: k) { return expression }
        for c in currency where AnswerText.hasPrefix(s, at: k, c) { k += c.count; break }
        return plainNumber(s, at: k)
    }

    private static func isExpressionByte(_ b: UInt8) -> Bool {
        AnswerText.isDigit(b) || AnswerText.isSpace(b) || b == UInt8(ascii: ".") || isOperator(b)
    }

    private static func isOperator(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "*"), UInt8(ascii: "/"), UInt8(ascii: "^"),
             UInt8(ascii: "("), UInt8(ascii: ")"): return true
        default: return false
        }
    }

    /// What may follow a plain expression: . , : ) $ or a space.
    private static func isTerminator(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: ")"), AnswerText.dollar: return true
        default: return AnswerText.isSpace(b)
        }
    }

    /// `-?\(?-?\d[expr]*[op][expr]+\)?` followed by punctuation, a space or
    /// the end; at most `maxPlainLength` bytes are looked at.
    private static func plainExpression(_ s: [UInt8], at i: Int) -> (end: Int, value: MathValue)? {
        var k = i
        if k < s.count, s[k] == AnswerText.minus { k += 1 }
        if k < s.count, s[k] == UInt8(ascii: "(") { k += 1 }
        if k < s.count, s[k] == AnswerText.minus { k += 1 }
        guard k < s.count, AnswerText.isDigit(s[k]) else { return nil }
        let limit = min(s.count, k + maxPlainLength)
        var end = k + 1
        while end < limit, isExpressionByte(s[end]) { end += 1 }
        // The longest prefix that has an operator after its first digit and
        // ends before a terminator (regex backtracking, done once).
        guard var lastOperator = s[(k + 1)..<end].lastIndex(where: isOperator) else { return nil }
        while end > k + 1 {
            let terminated = end == s.count || isTerminator(s[end])
            if lastOperator >= end { guard let o = s[(k + 1)..<end].lastIndex(where: isOperator) else { return nil }; lastOperator = o }
            if terminated, lastOperator < end - 1 || s[end - 1] == UInt8(ascii: ")") {
                let text = AnswerText.trimmed(s[i..<end])
                if let v = MathParser.parse(Array(text)), case .expression = v { return (end, v) }
                return nil
            }
            end -= 1
        }
        return nil
    }

    /// Longest plain expression looked at ("3/4 + 1/2", not a paragraph).
    static let maxPlainLength = 256

    private static func plainNumber(_ s: [UInt8], at i: Int) -> (end: Int, value: MathValue)? {
        guard i < s.count, i == 0 || !AnswerText.isDigit(s[i - 1]) else { return nil }
        var k = i
        var negative = false
        if s[k] == AnswerText.minus { negative = true; k += 1 }
        let digitsStart = k
        var digits: [UInt8] = []
        while k < s.count, AnswerText.isDigit(s[k]) { digits.append(s[k]); k += 1 }
        // Thousands separators: 1,234,567 or 1 234 567.
        if (1...3).contains(digits.count), digits.first != UInt8(ascii: "0") {
            var m = k
            var groups: [UInt8] = []
            while m + 3 < s.count, s[m] == AnswerText.comma || s[m] == UInt8(ascii: " "),
                  AnswerText.isDigit(s[m + 1]), AnswerText.isDigit(s[m + 2]), AnswerText.isDigit(s[m + 3]),
                  m + 4 == s.count || !AnswerText.isDigit(s[m + 4]) {
                groups += s[(m + 1)...(m + 3)]
                m += 4
            }
            if !groups.isEmpty { digits += groups; k = m }
        }
        var fraction: [UInt8] = []
        if k + 1 < s.count, s[k] == AnswerText.period || s[k] == AnswerText.comma, AnswerText.isDigit(s[k + 1]) {
            k += 1
            while k < s.count, AnswerText.isDigit(s[k]) { fraction.append(s[k]); k += 1 }
        } else if digits.isEmpty, k + 1 < s.count, s[k] == AnswerText.period, AnswerText.isDigit(s[k + 1]) {
            k += 1
            while k < s.count, AnswerText.isDigit(s[k]) { fraction.append(s[k]); k += 1 }
        }
        guard !digits.isEmpty || !fraction.isEmpty, k > digitsStart else { return nil }
        var literal = digits.isEmpty ? "0" : AnswerText.string(digits)
        while literal.count > 1, literal.hasPrefix("0") { literal.removeFirst() }
        var number: MathExpr = fraction.isEmpty ? .integer(literal) : .decimal(literal + "." + AnswerText.string(fraction))
        if negative { number = .negation(number) }
        var percent = false
        var p = k
        while p < s.count, AnswerText.isSpace(s[p]) { p += 1 }
        for word in Bytes.plainPercents where AnswerText.hasPrefix(s, at: p, word) {
            percent = true
            k = p + word.count
            break
        }
        return (k, .expression(number, percent: percent))
    }

    // MARK: text helpers

    private enum Bytes {
        static let doubleStar = Array("**".utf8)
        static let fracOpen = Array("\\frac{".utf8)
        static let displayDollar = Array("$$".utf8)
        static let iHope = Array("I hope".utf8)
        static let isWord = Array("is".utf8)
        static let joiners = [",and", ",or", "and", "or", ","].map { Array($0.utf8) }
        static let percents = ["\\%", "%", "percentage", "percent", "Percent", "pct"].map { Array($0.utf8) }
        static let plainPercents = ["%", "percentage", "percent", "Percentage", "Percent", "pct", "Pct"].map { Array($0.utf8) }
    }

    private static func followedByEquals(_ s: [UInt8], _ end: Int) -> Bool {
        var k = end
        while k < s.count, AnswerText.isSpace(s[k]) { k += 1 }
        return k < s.count && s[k] == UInt8(ascii: "=")
    }

    /// Skips spaces (and a colon first, when allowed).
    private static func skipping(_ s: [UInt8], from i: Int, colon: Bool) -> Int {
        var j = i
        if colon, j < s.count, s[j] == UInt8(ascii: ":") { j += 1 }
        while j < s.count, AnswerText.isSpace(s[j]) { j += 1 }
        return j
    }

    /// Where `phrase` occurs, any case, left to right.
    private static func occurrences(of phrase: String, in s: [UInt8]) -> [Int] {
        let p = Array(phrase.utf8)
        guard s.count >= p.count else { return [] }
        var out: [Int] = []
        for k in 0...(s.count - p.count) where AnswerText.hasPrefix(s, at: k, p, ignoringCase: true) { out.append(k) }
        return out
    }

    /// The next `needle` within the length math can have (longer math is not read anyway).
    private static func find(_ needle: [UInt8], in s: [UInt8], from i: Int, unescaped: Bool) -> Int? {
        guard needle.count <= s.count else { return nil }
        var k = i
        let limit = min(s.count, i + MathLexer.maxLength + needle.count)
        while k + needle.count <= limit {
            if AnswerText.hasPrefix(s, at: k, needle), !unescaped || s[k - 1] != AnswerText.backslash { return k }
            k += 1
        }
        return nil
    }
}
