/// A number as a text writes it: its value, and its literal without
/// thousands separators (so two huge numbers written alike still compare
/// equal after both overflow to infinity).
struct WrittenNumber: Equatable {
    var value: Double
    var literal: String
}

/// Finds the numbers in plain text, for the numeric verifier: integers,
/// decimals (".5" too), thousands separators ("1,234,567"), signs, an
/// exponent ("1e-3") and simple fractions ("3/4", "-3/4"). A sign counts only
/// when it is unary: "x-3" holds 3, "= -3" holds -3. LaTeX is the math
/// verifier's business.
enum NumberScanner {
    static func lastNumber(in text: String) -> WrittenNumber? {
        let s = Array(text.utf8)
        var last: WrittenNumber?
        var i = 0
        while i < s.count {
            let startsNumber = AnswerText.isDigit(s[i])
                || (s[i] == AnswerText.period && i + 1 < s.count && AnswerText.isDigit(s[i + 1]))
            if startsNumber, let (number, end) = number(in: s, at: i) {
                last = number
                i = end
            } else {
                i += 1
            }
        }
        return last
    }

    /// The number starting at `i` (a digit or a period before a digit) and where it ends.
    private static func number(in s: [UInt8], at i: Int) -> (WrittenNumber, Int)? {
        var literal: [UInt8] = isNegative(s, numberAt: i) ? [AnswerText.minus] : []
        var j = i
        let intStart = j
        while j < s.count, AnswerText.isDigit(s[j]) { j += 1 }
        literal += s[intStart..<j]
        if j - intStart >= 1, j - intStart <= 3 {
            while isThousandsGroup(s, commaAt: j) {
                literal += s[(j + 1)..<(j + 4)]
                j += 4
            }
        }
        j = appendFraction(s, from: j, to: &literal)
        var exponent = false
        if j < s.count, s[j] | 0x20 == UInt8(ascii: "e") {
            var k = j + 1
            if k < s.count, s[k] == AnswerText.minus || s[k] == AnswerText.plus { k += 1 }
            if k < s.count, AnswerText.isDigit(s[k]) {
                while k < s.count, AnswerText.isDigit(s[k]) { k += 1 }
                literal += s[j..<k]
                j = k
                exponent = true
            }
        }
        guard var value = Double(AnswerText.string(literal)) else { return nil }
        if !exponent, j + 1 < s.count, s[j] == UInt8(ascii: "/"),
           AnswerText.isDigit(s[j + 1]) || s[j + 1] == AnswerText.period {
            var denominator: [UInt8] = []
            var k = j + 1
            while k < s.count, AnswerText.isDigit(s[k]) { denominator.append(s[k]); k += 1 }
            k = appendFraction(s, from: k, to: &denominator)
            if let d = Double(AnswerText.string(denominator)) {
                value /= d
                literal += [UInt8(ascii: "/")] + denominator
                j = k
            }
        }
        return (WrittenNumber(value: value, literal: AnswerText.string(literal)), j)
    }

    /// ",234" at `j`, not followed by a fourth digit.
    private static func isThousandsGroup(_ s: [UInt8], commaAt j: Int) -> Bool {
        guard j + 3 < s.count, s[j] == AnswerText.comma else { return false }
        for k in (j + 1)...(j + 3) where !AnswerText.isDigit(s[k]) { return false }
        return j + 4 >= s.count || !AnswerText.isDigit(s[j + 4])
    }

    /// Appends ".digits" at `j` if there is one; a period not followed by a digit ends a sentence.
    private static func appendFraction(_ s: [UInt8], from j: Int, to literal: inout [UInt8]) -> Int {
        guard j + 1 < s.count, s[j] == AnswerText.period, AnswerText.isDigit(s[j + 1]) else { return j }
        var k = j + 1
        while k < s.count, AnswerText.isDigit(s[k]) { k += 1 }
        if literal.isEmpty || literal == [AnswerText.minus] { literal.append(UInt8(ascii: "0")) }
        literal += s[j..<k]
        return k
    }

    /// A minus sign (ASCII or U+2212) right before the number that is unary:
    /// at the start, or after a space or an opening/separating symbol.
    private static func isNegative(_ s: [UInt8], numberAt i: Int) -> Bool {
        var signStart: Int
        if i >= 1, s[i - 1] == AnswerText.minus {
            signStart = i - 1
        } else if i >= 3, s[i - 3] == 0xE2, s[i - 2] == 0x88, s[i - 1] == 0x92 {
            signStart = i - 3
        } else {
            return false
        }
        guard signStart > 0 else { return true }
        let before = s[signStart - 1]
        return AnswerText.isSpace(before) || Array("([{=,:;$<>".utf8).contains(before)
    }
}
