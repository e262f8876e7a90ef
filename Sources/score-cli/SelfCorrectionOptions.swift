#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

/// What `train` and `eval` share: the problems file, the options that say how
/// a problem is asked, revised and checked, and greedy evaluation in chunks.

enum SelfCorrectionOptions {
    static let valueOptions: Set<String> = ["data", "attempts", "verifier", "tolerance", "instruction", "task-prompt", "system",
                                            "max-new-tokens", "seed", "temperature", "threads"]

    static let help = """
      --attempts N         attempts per problem (default 2)
      --verifier V         exact | numeric | math (default math)
      --tolerance X        numeric tolerance of the numeric and math verifiers (default 1e-6)
      --instruction TEXT   the revision instruction (default: the SCoRe paper's MATH instruction)
      --task-prompt TEXT   the turn-1 message, "{problem}" replaced (default "{problem}")
      --system TEXT        a system message
      --max-new-tokens N   per attempt (default 512)
    """

    static func format(_ args: Arguments) throws -> RevisionFormat {
        var format = RevisionFormat()
        if let t = args.options["instruction"] {
            guard !t.isEmpty else { throw UsageError("--instruction must not be empty") }
            format.instruction = t
        }
        if let t = args.options["task-prompt"] {
            guard t.contains("{problem}") else { throw UsageError("--task-prompt must contain {problem}, got '\(t)'") }
            format.taskPrompt = t
        }
        format.systemPrompt = args.options["system"]
        return format
    }

    static func verifier(_ args: Arguments) throws -> Verifier {
        let name = args.options["verifier"] ?? "math"
        guard VerifierKind.allCases.contains(where: { $0.name == name }) else {
            throw UsageError("--verifier must be exact, numeric or math, got '\(name)'")
        }
        var tolerance = 1e-6
        if let t = args.options["tolerance"] {
            guard let v = Double(t), v.isFinite, v >= 0 else { throw UsageError("--tolerance must be a number ≥ 0, got '\(t)'") }
            tolerance = v
        }
        return try Verifier.parse(name, tolerance: tolerance)
    }

    static func reward(_ verifier: Verifier) -> SCoReTrainer.RewardFunction {
        { _, attempt, reference in verifier.reward(attempt: attempt, reference: reference) }
    }

    static func maxNewTokens(_ args: Arguments) throws -> Int {
        try args.int("max-new-tokens", default: 512, range: 1...1 << 20)
    }

    /// Greedy attempts for every problem, `batch` problems decoded together:
    /// the metrics over all of them, each problem's rollout and rewards.
    static func evaluate(_ evaluator: SelfCorrectionEvaluator, _ data: ProblemSet, verifier: Verifier, batch: Int,
                         progress: ((Int) -> Void)? = nil) throws -> (SelfCorrectionMetrics, [Rollout], [[Float]]) {
        var rollouts: [Rollout] = []
        for first in stride(from: 0, to: data.count, by: batch) {
            let range = first..<min(first + batch, data.count)
            let (_, chunk) = try evaluator.evaluate(problems: Array(data.problems[range]), references: Array(data.answers[range]),
                                                    reward: reward(verifier))
            rollouts += chunk.map { r in
                var r = r
                r.problem += first
                return r
            }
            progress?(range.upperBound)
        }
        let rewards = rollouts.map { r in r.attempts.map { verifier.reward(attempt: $0.text, reference: data.answers[r.problem]) } }
        return (SelfCorrectionMetrics(rewards: rewards, texts: rollouts.map { $0.attempts.map(\.text) }), rollouts, rewards)
    }

    /// The five metrics (and the two that reveal collapse) as JSON fields, names prefixed.
    static func fields(_ m: SelfCorrectionMetrics, prefix: String = "") -> [(String, JSON)] {
        var out: [(String, JSON)] = [
            (prefix + "acc_t1", JSON.number(m.accuracyT1)), (prefix + "acc_t2", JSON.number(m.accuracyT2)),
            (prefix + "delta", JSON.number(m.delta)), (prefix + "delta_i_to_c", JSON.number(m.incorrectToCorrect)),
            (prefix + "delta_c_to_i", JSON.number(m.correctToIncorrect)), (prefix + "answer_changed", JSON.number(m.answerChanged)),
            (prefix + "edit_distance_ratio", JSON.number(m.editDistanceRatio)),
        ]
        for (t, a) in m.accuracy.enumerated().dropFirst(2) { out.append((prefix + "acc_t\(t + 1)", JSON.number(a))) }
        return out
    }
}

/// `x` with exactly `digits` decimals ("0.50", "-1.25").
func fixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int64((abs(x) * scale).rounded())
    let whole = String(n / Int64(scale)), fraction = String(n % Int64(scale))
    let sign = x < 0 && n != 0 ? "-" : ""
    guard digits > 0 else { return sign + whole }
    return sign + whole + "." + String(repeating: "0", count: digits - fraction.count) + fraction
}

/// Seconds as "42s", "3m05s" or "2h07m".
func duration(_ seconds: Double) -> String {
    let s = Int(seconds.isFinite ? max(0, seconds) : 0)
    func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m\(two(s % 60))s" }
    return "\(s / 3600)h\(two(s / 60 % 60))m"
}
