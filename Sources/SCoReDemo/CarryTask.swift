import SCoReRuntime

/// The demo's synthetic task: two-digit addition ("47+38" → "85"), whose
/// answers a verifier checks exactly.
///
/// The warm-start data imitates a student with a habit, in the seed's
/// `original_answer` / `correct_answer` terms: when the units carry over,
/// the original answer forgets the carry with probability `slipRate`
/// (47+38 → 75). SFT on such answers yields a model that is right on
/// problems without a carry, wrong under greedy decoding on most problems
/// with one, and still samples the right answer some of the time — the
/// starting point SCoRe needs: mid-range Acc@t1 and a correct behaviour that
/// RL can find. The second turn in the warm-start data is another answer
/// from the same student, drawn independently, so the pre-SCoRe model has
/// no self-correction skill of its own.
public struct CarryTask: Sendable {
    public struct Problem: Sendable, Equatable {
        public let a: Int
        public let b: Int
        public var text: String { "\(a)+\(b)" }
        public var answer: Int { a + b }
        public var reference: String { String(answer) }
        public var carries: Bool { a % 10 + b % 10 >= 10 }
    }

    public var slipRate = 0.6
    public var range = 10...99

    public init(slipRate: Double = 0.6) { self.slipRate = slipRate }

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

    /// An answer from the student with the habit.
    public func studentAnswer(_ p: Problem, rng: inout TrainingRNG) -> String {
        if p.carries && rng.nextUniform() < slipRate { return String(p.answer - 10) }
        return p.reference
    }

    /// 1 when the attempt's final number is the sum, else 0.
    public static func reward(attempt: String, reference: String) -> Float {
        Verifier(kind: .numeric).reward(attempt: attempt, reference: reference)
    }
}
