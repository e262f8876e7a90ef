#if canImport(Glibc)
import Glibc
#endif

/// The value of a normalised math answer (see `MathAnswer.normalize`) that
/// is plain arithmetic: numbers, + - * / ^, parentheses and braces,
/// `\cdot` `\times` `\div`, `\frac{a}{b}`, `\sqrt{x}`, `\sqrt[n]{x}`, `\pi`,
/// and implicit products such as `2\sqrt{2}` or `3(1+2)`. Anything else
/// (variables, `\infty`, commas) has no value: such answers compare as text.
///
/// Recursive descent over Double; nesting deeper than `maxDepth` has no value
/// rather than exhausting the stack.
struct MathExpression {
    static let maxDepth = 64

    static func evaluate(_ s: [UInt8]) -> Double? {
        var parser = MathExpression(s: s)
        guard let value = parser.sum(), parser.i == s.count, value.isFinite else { return nil }
        return value
    }

    private let s: [UInt8]
    private var i = 0
    private var depth = 0

    private init(s: [UInt8]) { self.s = s }

    private mutating func sum() -> Double? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { return nil }
        guard var value = product() else { return nil }
        while true {
            if eat("+") {
                guard let rhs = product() else { return nil }
                value += rhs
            } else if eat("-") {
                guard let rhs = product() else { return nil }
                value -= rhs
            } else {
                return value
            }
        }
    }

    private mutating func product() -> Double? {
        guard var value = signed() else { return nil }
        while true {
            if eat("*") || eatCommand("cdot") || eatCommand("times") {
                guard let rhs = signed() else { return nil }
                value *= rhs
            } else if eat("/") || eatCommand("div") {
                guard let rhs = signed() else { return nil }
                value /= rhs
            } else if startsImplicitFactor() {
                guard let rhs = power() else { return nil }
                value *= rhs
            } else {
                return value
            }
        }
    }

    private mutating func signed() -> Double? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { return nil }
        if eat("-") { return signed().map { -$0 } }
        if eat("+") { return signed() }
        return power()
    }

    /// `^` binds tighter than a sign on its left and is right-associative: -2^2 = -4, 2^3^2 = 512.
    private mutating func power() -> Double? {
        guard let base = primary() else { return nil }
        guard eat("^") else { return base }
        guard let exponent = signed() else { return nil }
        return pow(base, exponent)
    }

    private mutating func primary() -> Double? {
        guard i < s.count else { return nil }
        if AnswerText.isDigit(s[i]) || s[i] == AnswerText.period { return number() }
        if eat("(") { return enclosed(closingWith: ")") }
        if eat("{") { return enclosed(closingWith: "}") }
        if eatCommand("frac") {
            guard let numerator = argument(), let denominator = argument() else { return nil }
            return numerator / denominator
        }
        if eatCommand("sqrt") {
            var index: Double?
            if eat("[") {
                guard let n = enclosed(closingWith: "]") else { return nil }
                index = n
            }
            guard let radicand = argument() else { return nil }
            return root(radicand, index: index ?? 2)
        }
        if eatCommand("pi") { return Double.pi }
        return nil
    }

    /// Odd roots of negative numbers are real: \sqrt[3]{-8} = -2.
    private func root(_ x: Double, index: Double) -> Double {
        if index == 2 { return x.squareRoot() }
        let isOddInteger = index.rounded() == index && abs(index) < 1e15 && Int64(index) % 2 != 0
        if x < 0, isOddInteger { return -pow(-x, 1 / index) }
        return pow(x, 1 / index)
    }

    private mutating func enclosed(closingWith close: Unicode.Scalar) -> Double? {
        guard let value = sum(), eat(close) else { return nil }
        return value
    }

    /// A command argument: a braced expression, or a single digit as in `\frac12`.
    private mutating func argument() -> Double? {
        if eat("{") { return enclosed(closingWith: "}") }
        guard i < s.count, AnswerText.isDigit(s[i]) else { return nil }
        i += 1
        return Double(s[i - 1] - UInt8(ascii: "0"))
    }

    private mutating func number() -> Double? {
        let start = i
        while i < s.count, AnswerText.isDigit(s[i]) { i += 1 }
        if i + 1 < s.count, s[i] == AnswerText.period, AnswerText.isDigit(s[i + 1]) {
            i += 1
            while i < s.count, AnswerText.isDigit(s[i]) { i += 1 }
        }
        guard i > start else { return nil }
        var literal = Array(s[start..<i])
        if literal.first == AnswerText.period { literal.insert(UInt8(ascii: "0"), at: 0) }
        return Double(AnswerText.string(literal))
    }

    /// What may follow a factor with no operator in between: "2(", "2\sqrt", "2\pi", "(1)(2)".
    private func startsImplicitFactor() -> Bool {
        guard i < s.count else { return false }
        if s[i] == UInt8(ascii: "(") || s[i] == AnswerText.openBrace { return true }
        guard s[i] == AnswerText.backslash else { return false }
        let name = s[(i + 1)..<AnswerText.commandEnd(in: s, at: i)]
        return name.elementsEqual("frac".utf8) || name.elementsEqual("sqrt".utf8) || name.elementsEqual("pi".utf8)
    }

    private mutating func eat(_ c: Unicode.Scalar) -> Bool {
        guard i < s.count, s[i] == UInt8(ascii: c) else { return false }
        i += 1
        return true
    }

    private mutating func eatCommand(_ name: String) -> Bool {
        guard i < s.count, s[i] == AnswerText.backslash else { return false }
        let end = AnswerText.commandEnd(in: s, at: i)
        guard s[(i + 1)..<end].elementsEqual(name.utf8) else { return false }
        i = end
        return true
    }
}
