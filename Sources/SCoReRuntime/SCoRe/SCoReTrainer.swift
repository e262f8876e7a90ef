/// Everything a SCoRe run needs besides the data and the optimiser.
public struct SCoReConfig: Sendable {
    public var objective = SCoReObjective()
    /// Attempts per rollout: 2 is the paper's setting; 1 is the single-turn
    /// RL ablation; more generalise (Stage I pins all but the last).
    public var attempts = 2
    /// k, the samples per problem the leave-one-out baseline averages over.
    public var samplesPerProblem = 4
    /// Rollouts are samples from the policy: temperature 1 by default.
    public var sampling = SamplingParams(temperature: 1)
    public var maxNewTokens = 256
    public var format = RevisionFormat()
    /// Sequences per forward/backward pass (bounds activation memory); one
    /// optimiser step always covers the whole batch.
    public var microBatchSize = 64

    public init() {}

    public func validate() throws {
        try objective.validate(attempts: attempts)
        guard samplesPerProblem >= 2 || objective.update == .filteredSFT else {
            throw ScoreError.invalidArgument("samples per problem must be ≥ 2 for the leave-one-out baseline, got \(samplesPerProblem)")
        }
        guard samplesPerProblem >= 1, samplesPerProblem <= 4096 else {
            throw ScoreError.invalidArgument("samples per problem \(samplesPerProblem) must be in 1...4096")
        }
        guard sampling.temperature > 0 else {
            throw ScoreError.invalidArgument("rollouts must be samples, not argmax: temperature must be > 0")
        }
        try sampling.validate()
        guard maxNewTokens >= 1 else { throw ScoreError.invalidArgument("max new tokens must be ≥ 1, got \(maxNewTokens)") }
        guard microBatchSize >= 1 else { throw ScoreError.invalidArgument("micro-batch size must be ≥ 1, got \(microBatchSize)") }
    }
}

extension TrainerConfig {
    /// The paper's optimiser for SCoRe: Adam (no weight decay), lr 5e-6;
    /// REINFORCE's per-trajectory sum of token terms; k3 KL to the reference.
    public static func scoreDefaults() -> TrainerConfig {
        var c = TrainerConfig()
        c.optimizer = AdamWConfig(learningRate: 5e-6, weightDecay: 0)
        c.objective = Objective(aggregation: .sequenceSum, klEstimator: .k3, klCoefficient: 0)
        c.maxGradNorm = 1
        return c
    }
}

/// What one SCoRe step saw and did.
public struct SCoReStepStats: Sendable {
    public var step = 0
    public var stage = SCoReStage.two
    /// Mean verifier reward r(y_t) per attempt over the batch's rollouts.
    public var rewardPerTurn: [Double] = []
    /// Mean sequence-level KL(π ‖ π_ref) estimate of each attempt's tokens.
    public var klPerTurn: [Double] = []
    /// Fraction of rollouts whose last attempt's answer differs from the first's.
    public var answerChangeRate = 0.0
    /// Per attempt: fraction of problems whose k turn rewards are all equal
    /// (zero advantage: those samples carry no policy-gradient signal).
    public var zeroSignalFraction: [Double] = []
    public var loss = 0.0
    public var gradNorm = 0.0
    public var learningRate = 0.0
    public var skippedNonFinite = false
    public var rollouts = 0
    public var generatedTokens = 0
    public var rolloutSeconds = 0.0
    public var referenceSeconds = 0.0
    public var updateSeconds = 0.0
    /// Of `updateSeconds`, summing gradients over the workers (waiting included).
    public var allreduceSeconds = 0.0
    public var rolloutTokensPerSecond: Double { rolloutSeconds > 0 ? Double(generatedTokens) / rolloutSeconds : 0 }
}

/// SCoRe's training loop: k multi-attempt rollouts per problem sampled from
/// the current policy, verifier rewards in, per-turn shaped rewards and
/// leave-one-out advantages, one policy-gradient step with the per-turn KL.
///
/// The data-driven path is `rollout` then `update(rollouts:rewards:)`; `step`
/// runs both with a reward function. The stage can change between steps.
public final class SCoReTrainer: @unchecked Sendable {
    public let trainer: Trainer
    public var config: SCoReConfig
    public let codec: TextCodec
    public let template: ChatTemplate
    private var policy: Model
    private var nextStream: UInt64 = 0
    public private(set) var stepsTaken = 0
    /// Hears how far rollouts, rewards, reference scoring and updates got, and
    /// may stop them (`ProgressHandler`); a stopped call changes nothing.
    public var progress: ProgressHandler?
    /// The workers this trainer is one of (`Collective`): `step` then rolls
    /// out, scores and differentiates only this worker's contiguous share of
    /// the problems, and the gradients and statistics are summed over all.
    public var collective: Collective {
        get { trainer.collective }
        set { trainer.collective = newValue }
    }
    /// In a single process: sum the gradients and statistics of a step in
    /// this many shards, as that many workers would, so the run equals an
    /// N-worker run bit for bit (the test of the data-parallel path).
    public var emulatedWorkers = 1

    public typealias RewardFunction = (_ problem: String, _ attempt: String, _ reference: String) throws -> Float

    public init(model: Model, config: SCoReConfig, training: TrainerConfig = .scoreDefaults()) throws {
        try config.validate()
        guard let tokenizer = model.tokenizer else {
            throw ScoreError.invalidArgument("\(model.directory) has no tokenizer.json; SCoRe rollouts work on text")
        }
        self.config = config
        codec = tokenizer
        template = try ChatTemplate.load(directory: model.directory)
        trainer = try Trainer(model: model, config: training)
        policy = try trainer.model.policyModel()
    }

    /// Resumes from a trainer checkpoint (`Trainer.save`).
    public init(resuming trainer: Trainer, config: SCoReConfig) throws {
        try config.validate()
        guard let tokenizer = trainer.model.base.tokenizer else {
            throw ScoreError.invalidArgument("\(trainer.model.base.directory) has no tokenizer.json; SCoRe rollouts work on text")
        }
        self.config = config
        codec = tokenizer
        template = try ChatTemplate.load(directory: trainer.model.base.directory)
        self.trainer = trainer
        policy = try trainer.model.policyModel()
        stepsTaken = trainer.completedSteps
        nextStream = firstStreamOfStep
    }

    /// Rollouts of optimiser step s draw streams from s·2^32 on, so a run
    /// resumed from a checkpoint samples what the uninterrupted run would.
    private var firstStreamOfStep: UInt64 { UInt64(trainer.completedSteps + trainer.skippedSteps) << 32 }

    /// The policy as it is now, for evaluation or generation.
    public var policyModel: Model { policy }

    /// Anchors the KL to the current policy from now on (e.g. Stage II
    /// against the Stage I model instead of the base).
    public func useCurrentPolicyAsReference() throws { try trainer.model.freezeCurrentAsReference() }

    /// k rollouts of `config.attempts` attempts for each problem, sampled
    /// from the current policy; each (rollout, attempt) has its own stream.
    public func rollout(problems: [String]) throws -> [Rollout] {
        let rollouts = try rollout(problems: problems[...], streamOffset: 0)
        // Only a finished rollout uses up its streams: a stopped one is redone alike.
        nextStream &+= UInt64(problems.count * config.samplesPerProblem * config.attempts)
        return rollouts
    }

    /// Rollouts of `problems`, a slice of a step's problems: problem i of the
    /// step draws the streams it would draw in one call over all of them.
    private func rollout(problems: ArraySlice<String>, streamOffset: Int) throws -> [Rollout] {
        try config.validate()
        let loop = try RevisionLoop(model: policy, codec: codec, template: template, format: config.format)
        var params = GenerationParams(maxNewTokens: config.maxNewTokens, sampling: config.sampling)
        params.firstStream = nextStream &+ UInt64(streamOffset * config.samplesPerProblem * config.attempts)
        var rollouts = try loop.run(problems: Array(problems), samples: config.samplesPerProblem, attempts: config.attempts,
                                    params: params, progress: progress)
        for i in rollouts.indices { rollouts[i].problem += streamOffset }
        return rollouts
    }

    /// One policy update from rollouts and the verifier's rewards
    /// (`rewards[i][t]` = r(y_t) of rollout i, one per attempt it has).
    public func update(rollouts: [Rollout], rewards: [[Float]]) throws -> SCoReStepStats {
        try config.validate()
        let n = config.attempts
        var sequences = try config.objective.sequences(rollouts: rollouts, rewards: rewards, attempts: n)
        var stats = SCoReStepStats()
        stats.stage = config.objective.stage
        stats.rollouts = rollouts.count

        // Shards as the workers hold them: by problem, contiguous; each in micro-batches.
        let workers = collective.size > 1 ? 1 : max(1, emulatedWorkers)
        let problemCount = (rollouts.map(\.problem).max() ?? 0) + 1
        let shardOf = { (problem: Int) in
            (0..<workers).first { WorkerShare.range(of: problemCount, rank: $0, size: workers).contains(problem) } ?? 0
        }
        let members = (0..<workers).map { w in rollouts.indices.filter { shardOf(rollouts[$0].problem) == w } }

        // Reference log-probs shard by shard: a batch's scores depend (in the
        // last bits) on what else is in it, and a worker scores only its own.
        let objective = trainer.config.objective
        if objective.klEstimator == .k1 || objective.klEstimator == .k3 {
            let start = Trainer.now()
            try Progress.report(progress, "reference", 0, sequences.count)
            var scored = 0
            for indices in members where !indices.isEmpty {
                let reference = try trainer.model.referenceLogProbs(indices.map { sequences[$0] })
                for (k, i) in indices.enumerated() { sequences[i].referenceLogProbs = reference[k] }
                scored += indices.count
                try Progress.report(progress, "reference", scored, sequences.count)
            }
            stats.referenceSeconds = Trainer.now() - start
        }
        let micro = config.microBatchSize
        let shards = members.map { indices in
            stride(from: 0, to: indices.count, by: micro).map { start in
                indices[start..<min(start + micro, indices.count)].map { sequences[$0] }
            }
        }
        let (step, shardKL) = try trainer.step(shards: shards, progress: progress)
        var klValues = [[Float]](repeating: [], count: rollouts.count)
        for (k, i) in members.flatMap({ $0 }).enumerated() { klValues[i] = shardKL[k] }
        if case .lora = trainer.model.parameterSet { policy = try trainer.model.policyModel() }
        stepsTaken += 1
        nextStream = firstStreamOfStep

        stats.step = step.step
        stats.loss = step.loss
        stats.gradNorm = step.gradNorm
        stats.learningRate = step.learningRate
        stats.skippedNonFinite = step.skippedNonFinite
        stats.updateSeconds = step.seconds
        stats.allreduceSeconds = step.reduceSeconds
        // Statistics are sums per shard, added in shard (rank) order, then divided.
        var totals = [Double](repeating: 0, count: 5 + 3 * n)
        for indices in members {
            let part = statisticSums(indices, rollouts: rollouts, rewards: rewards, klValues: klValues)
            for j in totals.indices { totals[j] += part[j] }
        }
        if collective.size > 1 { totals = try collective.sum(totals) }
        let episodes = totals[0], problems = totals[2], multi = totals[3]
        stats.rollouts = Int(episodes)
        stats.generatedTokens = Int(totals[1])
        stats.answerChangeRate = multi > 0 ? totals[4] / multi : 0
        stats.rewardPerTurn = (0..<n).map { episodes > 0 ? totals[5 + $0] / episodes : 0 }
        stats.klPerTurn = (0..<n).map { episodes > 0 ? totals[5 + n + $0] / episodes : 0 }
        stats.zeroSignalFraction = (0..<n).map { totals[5 + 2 * n + $0] / max(problems, 1) }
        return stats
    }

    /// [episodes, generated tokens, problems, multi-attempt episodes, changed
    /// answers, reward sum per turn, KL sum per turn, flat problems per turn]
    /// over the rollouts `indices`.
    private func statisticSums(_ indices: [Int], rollouts: [Rollout], rewards: [[Float]], klValues: [[Float]]) -> [Double] {
        let n = config.attempts
        var out = [Double](repeating: 0, count: 5 + 3 * n)
        var groups: [Int: [Int]] = [:]
        for i in indices {
            let r = rollouts[i]
            groups[r.problem, default: []].append(i)
            out[0] += 1
            out[1] += Double(r.attempts.reduce(0) { $0 + $1.tokens.count })
            if r.attempts.count >= 2 {
                out[3] += 1
                if FinalAnswer.comparable(r.attempts[0].text) != FinalAnswer.comparable(r.attempts[r.attempts.count - 1].text) { out[4] += 1 }
            }
            for t in 0..<n {
                out[5 + t] += t < rewards[i].count ? Double(rewards[i][t]) : 0
                if t < r.attemptRanges.count { out[5 + n + t] += r.attemptRanges[t].reduce(0.0) { $0 + Double(klValues[i][$1]) } }
            }
        }
        out[2] = Double(groups.count)
        let shaped = Dictionary(uniqueKeysWithValues: indices.map {
            ($0, TurnRewards.shaped(padded(rewards[$0], n), stage: config.objective.stage, alpha: config.objective.alpha))
        })
        for members in groups.values {
            for t in 0..<n where members.allSatisfy({ shaped[$0]![t] == shaped[members[0]]![t] }) { out[5 + 2 * n + t] += 1 }
        }
        return out
    }

    /// Rollouts for `problems`, rewards from `reward`, one update.
    /// `references[i]` is problem i's reference answer (or tests).
    public func step(problems: [String], references: [String], reward: RewardFunction) throws -> SCoReStepStats {
        guard problems.count == references.count else {
            throw ScoreError.invalidArgument("\(references.count) references for \(problems.count) problems")
        }
        let start = Trainer.now()
        // A step that fails or is stopped after its rollout leaves the streams
        // unused: the next step samples what this one did.
        let firstStream = nextStream
        do {
            return try step(problems: problems, references: references, reward: reward, started: start)
        } catch {
            nextStream = firstStream
            throw error
        }
    }

    private func step(problems: [String], references: [String], reward: RewardFunction, started start: Double) throws -> SCoReStepStats {
        // Under a collective, this worker's contiguous share of the problems.
        let mine = collective.share(of: problems.count)
        let rollouts = try rollout(problems: problems[mine], streamOffset: mine.lowerBound)
        nextStream &+= UInt64(problems.count * config.samplesPerProblem * config.attempts)
        let rolloutSeconds = Trainer.now() - start
        let attemptCount = rollouts.reduce(0) { $0 + $1.attempts.count }
        var scored = 0
        let rewards = try rollouts.map { r in
            try r.attempts.map { a -> Float in
                try Progress.report(progress, "rewards", scored, attemptCount)
                scored += 1
                let v = try reward(problems[r.problem], a.text, references[r.problem])
                guard v.isFinite else { throw ScoreError.invalidArgument("the reward function returned \(v) for problem \(r.problem)") }
                return v
            }
        }
        var stats = try update(rollouts: rollouts, rewards: rewards)
        stats.rolloutSeconds = rolloutSeconds
        return stats
    }

    private func padded(_ r: [Float], _ n: Int) -> [Float] { r + [Float](repeating: 0, count: max(0, n - r.count)) }
}

func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
