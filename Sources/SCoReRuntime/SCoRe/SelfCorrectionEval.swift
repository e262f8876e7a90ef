/// The paper's five self-correction metrics (plus two that reveal collapse)
/// from greedy attempts. Δ^{i→c} and Δ^{c→i} are fractions of ALL problems,
/// so Δ = Δ^{i→c} − Δ^{c→i}.
public struct SelfCorrectionMetrics: Sendable, Equatable {
    public var problems = 0
    /// Accuracy of each attempt (index 0 is Acc@t1).
    public var accuracy: [Double] = []
    public var accuracyT1: Double { accuracy.first ?? 0 }
    public var accuracyT2: Double { accuracy.count > 1 ? accuracy[1] : accuracyT1 }
    public var delta: Double { accuracyT2 - accuracyT1 }
    public var incorrectToCorrect = 0.0
    public var correctToIncorrect = 0.0
    /// Fraction of problems whose attempt-2 final answer differs from attempt 1's.
    public var answerChanged = 0.0
    /// Mean Levenshtein(y1, y2) / (|y1| + |y2|) over characters.
    public var editDistanceRatio = 0.0

    public init() {}

    /// `rewards[p][t]` is the verifier's r(y_t) for problem p; `texts[p][t]` the attempt text.
    public init(rewards: [[Float]], texts: [[String]]) {
        problems = rewards.count
        guard problems > 0 else { return }
        let n = rewards.map(\.count).max() ?? 0
        let right = rewards.map { $0.map { $0 >= 1 } }
        accuracy = (0..<n).map { t in Double(right.filter { t < $0.count && $0[t] }.count) / Double(problems) }
        guard n >= 2 else { return }
        // A problem whose context ran out before attempt 2 keeps attempt 1 as its answer.
        let second = right.map { $0.count > 1 ? $0[1] : $0[0] }
        accuracy[1] = Double(second.filter { $0 }.count) / Double(problems)
        incorrectToCorrect = Double(zip(right, second).filter { !$0.0[0] && $0.1 }.count) / Double(problems)
        correctToIncorrect = Double(zip(right, second).filter { $0.0[0] && !$0.1 }.count) / Double(problems)
        var changed = 0, ratio = 0.0
        for t in texts {
            let y1 = t[0], y2 = t.count > 1 ? t[1] : t[0]
            if FinalAnswer.comparable(y1) != FinalAnswer.comparable(y2) { changed += 1 }
            let a = Array(y1.unicodeScalars), b = Array(y2.unicodeScalars)
            ratio += a.count + b.count == 0 ? 0 : Double(levenshtein(a, b)) / Double(a.count + b.count)
        }
        answerChanged = Double(changed) / Double(problems)
        editDistanceRatio = ratio / Double(problems)
    }
}

/// The answer two attempts are compared by: the extracted final answer when
/// the text states one, else the whole text with whitespace collapsed.
public enum FinalAnswer {
    public static func comparable(_ text: String) -> String {
        if let answer = AnswerExtraction.finalAnswer(text) { return answer }
        return text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}

func levenshtein(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count), current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// Greedy multi-attempt evaluation and the inference-time comparison.
public struct SelfCorrectionEvaluator {
    public let model: Model
    public let format: RevisionFormat
    public var maxNewTokens = 256
    public var attempts = 2
    /// Hears how far the attempts ("evaluate") and rewards got; may stop them.
    public var progress: ProgressHandler?

    public init(model: Model, format: RevisionFormat = RevisionFormat(), maxNewTokens: Int = 256, attempts: Int = 2) {
        self.model = model
        self.format = format
        self.maxNewTokens = maxNewTokens
        self.attempts = attempts
    }

    private func loop() throws -> RevisionLoop {
        guard let tokenizer = model.tokenizer else {
            throw ScoreError.invalidArgument("\(model.directory) has no tokenizer.json; evaluation works on text")
        }
        return try RevisionLoop(model: model, codec: tokenizer, template: try ChatTemplate.load(directory: model.directory), format: format)
    }

    private func rewards(_ rollouts: [Rollout], problems: [String], references: [String],
                         reward: SCoReTrainer.RewardFunction) throws -> [[Float]] {
        try rollouts.map { r in try r.attempts.map { try reward(problems[r.problem], $0.text, references[r.problem]) } }
    }

    /// Greedy attempts 1…N for every problem: the metrics and the rollouts.
    public func evaluate(problems: [String], references: [String],
                         reward: SCoReTrainer.RewardFunction) throws -> (SelfCorrectionMetrics, [Rollout]) {
        guard problems.count == references.count else {
            throw ScoreError.invalidArgument("\(references.count) references for \(problems.count) problems")
        }
        let params = GenerationParams(maxNewTokens: maxNewTokens, sampling: .greedy)
        let rollouts = try loop().run(problems: problems, samples: 1, attempts: attempts, params: params,
                                      progress: progress, phase: "evaluate")
        let total = rollouts.reduce(0) { $0 + $1.attempts.count }
        var done = 0
        let r = try rewards(rollouts, problems: problems, references: references) { problem, attempt, reference in
            try Progress.report(progress, "rewards", done, total)
            done += 1
            return try reward(problem, attempt, reference)
        }
        return (SelfCorrectionMetrics(rewards: r, texts: rollouts.map { $0.attempts.map(\.text) }), rollouts)
    }

    /// The paper's inference-time comparison at a budget of 2K samples:
    /// majority vote over 2K independent first attempts, versus K first
    /// attempts each revised once and a majority vote over the K revisions.
    public struct VoteComparison: Sendable, Equatable {
        public var budget = 0
        public var parallelAccuracy = 0.0
        public var sequentialAccuracy = 0.0
    }

    public func majorityVote(problems: [String], references: [String], k: Int, sampling: SamplingParams, seed: UInt64,
                             reward: SCoReTrainer.RewardFunction) throws -> VoteComparison {
        guard k >= 1 else { throw ScoreError.invalidArgument("K must be ≥ 1, got \(k)") }
        guard sampling.temperature > 0 else { throw ScoreError.invalidArgument("majority voting needs sampling (temperature > 0)") }
        var params = GenerationParams(maxNewTokens: maxNewTokens, sampling: sampling)
        params.sampling.seed = seed
        let l = try loop()
        let parallel = try l.run(problems: problems, samples: 2 * k, attempts: 1, params: params)
        params.firstStream = UInt64(problems.count * 2 * k)
        let sequential = try l.run(problems: problems, samples: k, attempts: 2, params: params)
        func accuracy(_ rollouts: [Rollout]) throws -> Double {
            var byProblem = [[Attempt]](repeating: [], count: problems.count)
            for r in rollouts { byProblem[r.problem].append(r.attempts[r.attempts.count - 1]) }
            var right = 0
            for (p, finals) in byProblem.enumerated() {
                var counts: [String: Int] = [:], firstSeen: [String: Int] = [:]
                for (i, a) in finals.enumerated() {
                    let key = FinalAnswer.comparable(a.text)
                    counts[key, default: 0] += 1
                    if firstSeen[key] == nil { firstSeen[key] = i }
                }
                // Most votes; ties go to the answer seen first.
                guard let winner = counts.max(by: { ($0.value, -firstSeen[$0.key]!) < ($1.value, -firstSeen[$1.key]!) }) else { continue }
                if try reward(problems[p], finals[firstSeen[winner.key]!].text, references[p]) >= 1 { right += 1 }
            }
            return Double(right) / Double(max(problems.count, 1))
        }
        return VoteComparison(budget: 2 * k, parallelAccuracy: try accuracy(parallel), sequentialAccuracy: try accuracy(sequential))
    }
}
