/// How an attempt is checked against a reference answer. Raw values are the
/// verifier ids of the C API.
public enum VerifierKind: Int32, Sendable, CaseIterable {
    /// The same text after light normalisation (case, spaces, a final period).
    case exact = 0
    /// The same number: the last number written, within a tolerance.
    case numeric = 1
    /// The same math answer, decided as Hugging Face's math-verify decides it
    /// (`MathExtraction`, `MathEquivalence`): equivalence, not spelling.
    case math = 2

    public var name: String {
        switch self {
        case .exact: return "exact"
        case .numeric: return "numeric"
        case .math: return "math"
        }
    }
}

/// The binary reward r(y, y*) of SCoRe: 1 if an attempt answers like the reference, else 0.
///
/// Both sides go through `AnswerExtraction.finalAnswer` first, so a full
/// solution ending in "The final answer is $…$" or `\boxed{…}` works as an
/// attempt and as a reference; text without either is used whole, text with
/// a broken one (an unclosed box) has no answer. An empty answer never
/// matches. No input makes a verifier crash or hang.
public struct Verifier: Sendable {
    public var kind: VerifierKind
    /// Numbers a and reference b match when |a - b| <= tolerance * max(1, |b|).
    public var tolerance: Double

    public init(kind: VerifierKind, tolerance: Double = 1e-6) {
        self.kind = kind
        self.tolerance = tolerance
    }

    /// The verifier named "exact", "numeric" or "math".
    public static func parse(_ name: String, tolerance: Double = 1e-6) throws -> Verifier {
        guard let kind = VerifierKind.allCases.first(where: { $0.name == name }) else {
            throw ScoreError.invalidArgument("unknown verifier \"\(name)\" (expected exact, numeric or math)")
        }
        guard tolerance.isFinite, tolerance >= 0 else {
            throw ScoreError.invalidArgument("verifier tolerance \(tolerance) must be finite and >= 0")
        }
        return Verifier(kind: kind, tolerance: tolerance)
    }

    public func reward(attempt: String, reference: String) -> Float {
        matches(attempt: attempt, reference: reference) ? 1 : 0
    }

    func matches(attempt: String, reference: String) -> Bool {
        if kind == .math {
            guard let gold = MathExtraction.reference(reference), let prediction = MathExtraction.answer(attempt) else { return false }
            return MathEquivalence.equal(gold: gold, prediction: prediction)
        }
        let a = Self.answer(attempt), b = Self.answer(reference)
        switch kind {
        case .exact:
            let x = Self.exactForm(a), y = Self.exactForm(b)
            return !y.isEmpty && x == y
        case .numeric:
            guard let x = NumberScanner.lastNumber(in: a), let y = NumberScanner.lastNumber(in: b) else { return false }
            return x.literal == y.literal || Self.close(x.value, y.value, tolerance: tolerance)
        case .math:
            return false  // decided above
        }
    }

    static func close(_ value: Double, _ reference: Double, tolerance: Double) -> Bool {
        value.isFinite && reference.isFinite && abs(value - reference) <= tolerance * max(1, abs(reference))
    }

    /// The extracted final answer; the whole text if it marks none; "" (no
    /// answer) if it marks one that cannot be extracted, e.g. a truncated `\boxed{`.
    private static func answer(_ text: String) -> String {
        if let answer = AnswerExtraction.finalAnswer(text) { return answer }
        return AnswerExtraction.marksAnswer(text) ? "" : text
    }

    /// Trimmed, whitespace runs collapsed to one space, ASCII lower-cased, no trailing period.
    private static func exactForm(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var pendingSpace = false
        for b in text.utf8 {
            if AnswerText.isSpace(b) {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace { out.append(UInt8(ascii: " ")) }
            pendingSpace = false
            out.append(AnswerText.lowercased(b))
        }
        return Array(AnswerText.trimmingTrailingPeriods(out[...]))
    }
}
