#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

/// score-cli eval: the paper's self-correction metrics of a model on a problems
/// file (greedy attempts, no hint between them), and optionally the
/// inference-time comparison of majority voting with and without revision.
enum EvalCommand {
    static let help = """
    usage: score-cli eval DIR --data problems.jsonl [options]

    Greedy attempt 1, then the revision instruction and greedy attempt 2 (and
    so on), for every problem; each attempt is checked against the reference
    answer and the self-correction metrics are printed: Acc@t1, Acc@t2,
    Δ(t1,t2) = Acc@t2 − Acc@t1, Δi→c and Δc→i (fractions of all problems),
    how often the final answer changed, and the edit-distance ratio.

    data: JSONL, one {"problem": "...", "answer": "..."} per line ("question"
    for the problem; "reference", "solution" or "tests" for the answer).

    options:
    \(SelfCorrectionOptions.help)
      --batch B            problems decoded together (default 16)
      --json               print one JSON object instead of the table
      --out FILE.jsonl     also write every problem's attempts and rewards
      --majority K         also compare majority voting at a budget of 2K samples:
                           2K independent attempts vs K attempts each revised once
      --temperature T      sampling temperature of --majority (default 1)
      --seed S             sampling seed of --majority (default 0)
      --threads N
    """

    static let valueOptions = SelfCorrectionOptions.valueOptions.union(["batch", "out", "majority"])
    static let flagOptions: Set<String> = ["help", "json"]

    static func run(_ args: Arguments) throws {
        guard args.positional.count == 1 else { throw UsageError("eval takes exactly one model directory") }
        guard let dataPath = args.options["data"] else { throw UsageError("eval needs --data problems.jsonl") }
        let attempts = try args.int("attempts", default: 2, range: 1...64)
        let batch = try args.int("batch", default: 16, range: 1...4096)
        let maxNewTokens = try SelfCorrectionOptions.maxNewTokens(args)
        let format = try SelfCorrectionOptions.format(args)
        let verifier = try SelfCorrectionOptions.verifier(args)
        let majority = try args.options["majority"].map { _ in try args.int("majority", default: 1, range: 1...1024) }
        if majority == nil, let stray = ["temperature", "seed"].first(where: { args.options[$0] != nil }) {
            throw UsageError("--\(stray) applies to --majority sampling only (evaluation is greedy)")
        }
        if majority != nil && attempts != 2 { throw UsageError("--majority compares one revision per sample: it needs --attempts 2") }
        let temperature = try SFTCommand.float(args, "temperature", 1)
        guard temperature > 0 else { throw UsageError("--temperature must be > 0 for majority voting, got \(temperature)") }
        let seed = UInt64(try args.int("seed", default: 0, range: 0...Int.max))
        let outPath = args.options["out"]

        let data = try ProblemSet.load(dataPath)
        let model = try Model.load(directory: args.positional[0], options: modelLoadOptions)
        let evaluator = SelfCorrectionEvaluator(model: model, format: format, maxNewTokens: maxNewTokens, attempts: attempts)
        let started = BenchCommand.now()
        let (metrics, rollouts, rewards) = try SelfCorrectionOptions.evaluate(evaluator, data, verifier: verifier, batch: batch) { done in
            let seconds = BenchCommand.now() - started
            SFTCommand.writeStderr("\revaluated \(done)/\(data.count) problems, ETA \(duration(seconds / Double(done) * Double(data.count - done)))   ")
        }
        SFTCommand.writeStderr("\n")
        var vote: Vote? = nil
        if let k = majority {
            vote = try majorityVote(evaluator, data, k: k, sampling: SamplingParams(temperature: temperature), seed: seed,
                                    verifier: verifier, batch: batch)
        }
        if let outPath { try writeAttempts(outPath, data: data, rollouts: rollouts, rewards: rewards) }

        if args.flags.contains("json") {
            var pairs = SelfCorrectionOptions.fields(metrics)
            pairs.append(("accuracy", .array(metrics.accuracy.map { JSON.number($0) })))
            pairs.append(("problems", .int(Int64(metrics.problems))))
            if let vote, let k = majority {
                pairs.append(("majority", .object([
                    ("k", .int(Int64(k))), ("budget", .int(Int64(vote.budget))),
                    ("parallel_accuracy", JSON.number(vote.parallelAccuracy)), ("sequential_accuracy", JSON.number(vote.sequentialAccuracy)),
                ])))
            }
            print(try JSON.object(pairs).serialized(indent: false))
        } else {
            printTable(metrics, vote: vote, k: majority)
        }
    }

    /// Accuracy of majority voting at a budget of 2K samples: over 2K independent
    /// first attempts (parallel) and over K attempts each revised once (sequential).
    struct Vote {
        var budget = 0
        var parallelAccuracy = 0.0
        var sequentialAccuracy = 0.0
    }

    /// Majority voting over `batch`-problem chunks; each chunk samples under
    /// its own seed so no two problems share random streams.
    static func majorityVote(_ evaluator: SelfCorrectionEvaluator, _ data: ProblemSet, k: Int, sampling: SamplingParams, seed: UInt64,
                             verifier: Verifier, batch: Int) throws -> Vote {
        var total = Vote()
        for (chunk, first) in stride(from: 0, to: data.count, by: batch).enumerated() {
            let range = first..<min(first + batch, data.count)
            let v = try evaluator.majorityVote(problems: Array(data.problems[range]), references: Array(data.answers[range]), k: k,
                                               sampling: sampling, seed: seed &+ UInt64(chunk) &* 0x9E37_79B9_7F4A_7C15,
                                               reward: SelfCorrectionOptions.reward(verifier))
            let share = Double(range.count) / Double(data.count)
            total.budget = v.budget
            total.parallelAccuracy += v.parallelAccuracy * share
            total.sequentialAccuracy += v.sequentialAccuracy * share
        }
        return total
    }

    static func printTable(_ m: SelfCorrectionMetrics, vote: Vote?, k: Int?) {
        func percent(_ x: Double, signed: Bool = false) -> String { (signed && x >= 0 ? "+" : "") + fixed(100 * x, 1) + "%" }
        var rows: [(String, String)] = [("problems", "\(m.problems)")]
        for (t, a) in m.accuracy.enumerated() { rows.append(("Acc@t\(t + 1)", percent(a))) }
        if m.accuracy.count >= 2 {
            rows += [("Δ(t1,t2)", percent(m.delta, signed: true)), ("Δi→c", percent(m.incorrectToCorrect)),
                     ("Δc→i", percent(m.correctToIncorrect)), ("answer changed", percent(m.answerChanged)),
                     ("edit distance ratio", fixed(m.editDistanceRatio, 3))]
        }
        if let vote, let k {
            rows += [("majority of \(vote.budget) attempts", percent(vote.parallelAccuracy)),
                     ("majority of \(k) revisions", percent(vote.sequentialAccuracy))]
        }
        let width = rows.map { $0.0.unicodeScalars.count }.max() ?? 0
        for (name, value) in rows {
            print(name + String(repeating: " ", count: width - name.unicodeScalars.count + 2) + value)
        }
    }

    /// One line per problem: its index, text, reference, and each attempt's text, reward and finish reason.
    static func writeAttempts(_ path: String, data: ProblemSet, rollouts: [Rollout], rewards: [[Float]]) throws {
        var lines: [String] = []
        for (r, reward) in zip(rollouts, rewards) {
            let attempts = zip(r.attempts, reward).map { a, v in
                JSON.object([("text", .string(a.text)), ("reward", JSON.number(Double(v))), ("tokens", .int(Int64(a.tokens.count))),
                             ("finish_reason", .string("\(a.finishReason)"))])
            }
            let line = JSON.object([("problem_index", .int(Int64(r.problem))), ("problem", .string(data.problems[r.problem])),
                                    ("answer", .string(data.answers[r.problem])), ("attempts", .array(attempts))])
            lines.append(try line.serialized(indent: false))
        }
        try CorrectCommand.writeAtomically(path, lines.joined(separator: "\n") + "\n")
    }
}
