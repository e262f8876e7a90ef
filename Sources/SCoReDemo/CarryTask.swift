import SCoReRuntime

/// The demo's synthetic task: two-digit addition ("47+38" → "85"), whose
/// answers a verifier checks exactly.
///
/// The warm-start data imitates a student with a habit, in the seed's
/// `original_answer` / `correct_answer` terms. When the units carry over,
/// the first answer usually forgets the carry (`slipRate`: 47+38 → 75).
/// Asked to check, the student looks at that answer and sometimes adds the
/// missing ten (`fixRate`); now and then they "fix" an answer that was
/// right (`breakRate`, adding a ten that was never carried); otherwise they
/// repeat it. So the warm-started model is right on problems without a
/// carry, wrong on most with one, and has a weak, unreliable correction
/// skill — greedy revision changes almost nothing (Δ ≈ 0) — as the paper's
/// base models have.
///
/// Why a second look is worth more here: fixing the draft is less work
/// than adding from scratch. The draft already holds the sum of the tens
/// digits; the fix adds one carry to it. Producing the right first answer
/// means adding three things at once (both tens digits and the carry),
/// which the student rarely shows (1 − slipRate of carry problems).
public struct CarryTask: Sendable {
    public struct Problem: Sendable, Equatable {
        public let a: Int
        public let b: Int
        public var text: String { "\(a)+\(b)" }
        public var answer: Int { a + b }
        public var reference: String { String(answer) }
        public var carries: Bool { a % 10 + b % 10 >= 10 }
    }

    public var slipRate = 0.9
    public var fixRate = 0.3
    public var breakRate = 0.05
    public var range = 10...99

    public init(slipRate: Double = 0.9, fixRate: Double = 0.3, breakRate: Double = 0.05) {
        self.slipRate = slipRate
        self.fixRate = fixRate
        self.breakRate = breakRate
    }

    /// Every problem, in a seeded order; the first `heldOut` are the
    /// evaluation split and never appear in training data.
    public func split(heldOut: Int, seed: UInt64) -> (train: [Problem], eval: [Problem]) {
        var all: [Problem] = []
        for a in range { for b in range { all.append(Problem(a: a, b: b)) } }
        var rng = TrainingRNG(seed: seed ^ 0x7A5C)
        for i in stride(from: all.count - 1, to: 0, by: -1) {
            let j = Int(rng.nextUniform() * Double(i + 1))
            all.swapAt(i, j)
        }
        let n = min(heldOut, all.count / 2)
        return (Array(all[n...]), Array(all[..<n]))
    }

    /// A first answer from the student with the habit.
    public func studentAnswer(_ p: Problem, rng: inout TrainingRNG) -> String {
        if p.carries && rng.nextUniform() < slipRate { return String(p.answer - 10) }
        return p.reference
    }

    /// The student's first answer and, asked to check it, their second.
    public func studentConversation(_ p: Problem, rng: inout TrainingRNG) -> (first: String, second: String) {
        let first = studentAnswer(p, rng: &rng)
        let draft = Int(first) ?? p.answer
        if first != p.reference { return (first, rng.nextUniform() < fixRate ? String(draft + 10) : first) }
        return (first, rng.nextUniform() < breakRate ? String(draft + 10) : first)
    }

    /// 1 when the attempt's final number is the sum, else 0.
    public static func reward(attempt: String, reference: String) -> Float {
        Verifier(kind: .numeric).reward(attempt: attempt, reference: reference)
    }
}
