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
        try config.validate()
        let loop = try RevisionLoop(model: policy, codec: codec, template: template, format: config.format)
        var params = GenerationParams(maxNewTokens: config.maxNewTokens, sampling: config.sampling)
        params.firstStream = nextStream
        let rollouts = try loop.run(problems: problems, samples: config.samplesPerProblem, attempts: config.attempts,
                                    params: params, progress: progress)
        // Only a finished rollout uses up its streams: a stopped one is redone alike.
        nextStream &+= UInt64(problems.count * config.samplesPerProblem * config.attempts)
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

        let objective = trainer.config.objective
        if objective.klEstimator == .k1 || objective.klEstimator == .k3 {
            let start = Trainer.now()
            try Progress.report(progress, "reference", 0, sequences.count)
            let reference = try trainer.model.referenceLogProbs(sequences)
            try Progress.report(progress, "reference", sequences.count, sequences.count)
            for i in sequences.indices { sequences[i].referenceLogProbs = reference[i] }
            stats.referenceSeconds = Trainer.now() - start
        }
        let micro = config.microBatchSize
        let batches = stride(from: 0, to: sequences.count, by: micro).map { Array(sequences[$0..<min($0 + micro, sequences.count)]) }
        let (step, klValues) = try trainer.step(microBatches: batches, progress: progress)
        if case .lora = trainer.model.parameterSet { policy = try trainer.model.policyModel() }
        stepsTaken += 1
        nextStream = firstStreamOfStep

        stats.step = step.step
        stats.loss = step.loss
        stats.gradNorm = step.gradNorm
        stats.learningRate = step.learningRate
        stats.skippedNonFinite = step.skippedNonFinite
        stats.updateSeconds = step.seconds
        stats.rewardPerTurn = (0..<n).map { t in
            mean(rewards.map { t < $0.count ? Double($0[t]) : 0 })
        }
        stats.klPerTurn = (0..<n).map { t in
            mean(rollouts.indices.map { i in
                t < rollouts[i].attemptRanges.count ? rollouts[i].attemptRanges[t].reduce(0.0) { $0 + Double(klValues[i][$1]) } : 0
            })
        }
        var groups: [Int: [Int]] = [:]
        for (i, r) in rollouts.enumerated() { groups[r.problem, default: []].append(i) }
        let shaped = rewards.map { TurnRewards.shaped(padded($0, n), stage: config.objective.stage, alpha: config.objective.alpha) }
        stats.zeroSignalFraction = (0..<n).map { t in
            let flat = groups.values.filter { members in
                let turn = members.map { shaped[$0][t] }
                return turn.allSatisfy { $0 == turn[0] }
            }
            return Double(flat.count) / Double(max(groups.count, 1))
        }
        let multi = rollouts.filter { $0.attempts.count >= 2 }
        stats.answerChangeRate = mean(multi.map { r in
            FinalAnswer.comparable(r.attempts[0].text) == FinalAnswer.comparable(r.attempts[r.attempts.count - 1].text) ? 0 : 1
        })
        stats.generatedTokens = rollouts.reduce(0) { $0 + $1.attempts.reduce(0) { $0 + $1.tokens.count } }
        return stats
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
        let rollouts = try rollout(problems: problems)
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
