/// Which stages a SCoRe recipe runs: Stage I alone, Stage II alone, or
/// rounds of Stage I then Stage II (the paper). The raw values are what
/// the run's checkpoint records ("stage" in `score_state.json`).
public enum SCoReRecipeStages: String, Sendable, CaseIterable {
    case one = "1"
    case two = "2"
    case both = "both"
}

/// One phase of a recipe: a stage, and the round it belongs to (1-based).
public struct SCoReRecipePhase: Sendable, Equatable {
    public var stage: SCoReStage
    public var round: Int

    public init(stage: SCoReStage, round: Int) {
        self.stage = stage
        self.round = round
    }
}

/// Every setting of a SCoRe recipe run (`SCoReRecipe`): the phases, the step
/// counts and intervals, the seed, the SCoRe objective and rollouts, the
/// optimiser. `validate()` checks them; `fingerprint(problems:)` is what a
/// resumed run must share with the run it continues (the step counts and
/// rounds may grow, the intervals change).
public struct SCoReRecipeSettings: Sendable {
    public var stages: SCoReRecipeStages = .both
    /// With `.both`: Stage I then Stage II this many times; 1 otherwise.
    public var rounds = 1
    /// Optimiser steps of every phase, unless the stage has its own count.
    public var stepsPerStage = 100
    /// Stage I's and Stage II's own step counts (nil: `stepsPerStage`):
    /// the paper gives no split, and a short Stage I then a longer Stage II
    /// is a common one.
    public var stageOneSteps: Int? = nil
    public var stageTwoSteps: Int? = nil

    /// Optimiser steps of a phase of this stage.
    public func steps(for stage: SCoReStage) -> Int {
        (stage == .one ? stageOneSteps : stageTwoSteps) ?? stepsPerStage
    }
    /// Problems drawn per step (a seeded shuffle, epoch by epoch); more than
    /// the training set has uses the whole set.
    public var problemsPerStep = 16
    /// OUT/last is written every this many steps (and at the end); OUT/best
    /// is chosen among the windows between two saves.
    public var saveEvery = 25
    /// Held-out evaluation every this many steps (nil: `saveEvery`); only
    /// with held-out problems.
    public var evalEvery: Int? = nil
    /// Stage II's KL reference is the policy as Stage I ended (until the
    /// next Stage II begins) instead of the base model; needs `.both`.
    public var anchorStageTwoToStageOne = false
    /// The data order, the rollouts' sampling (step n samples with a seed
    /// derived from it and n) and LoRA initialisation (it replaces
    /// `training.seed`).
    public var seed: UInt64 = 0
    /// Rollouts and objective; `objective.stage` and `sampling.seed` are
    /// set per phase and step.
    public var score = SCoReConfig()
    /// The optimiser of a new run; a resumed run takes the checkpoint's.
    public var training = TrainerConfig.scoreDefaults()
    /// A single process sums each step's gradients in this many shards, as
    /// that many workers do: it then equals their run bit for bit.
    public var shards = 1
    /// What the reward is, recorded in the checkpoint so that a run resumes
    /// with the reward it began with: a built-in verifier's name and
    /// tolerance (`useVerifier`), or a name of the host's choosing.
    public var rewardName = "custom"
    public var rewardTolerance = 0.0
    /// How the embedder's users name a setting, for the messages about
    /// checkpoints: the keys of `fingerprint(problems:)`, "problems" (the
    /// size of the training set), "resume" (the switch that continues a run)
    /// and "out" (the output directory). score-cli answers "--samples",
    /// "--resume", "--out"; the C API its struct fields.
    public var settingName: @Sendable (_ key: String) -> String = SCoReRecipeSettings.plainName

    public init() {}

    /// The default `settingName`.
    public static func plainName(_ key: String) -> String {
        switch key {
        case "problems": return "the number of problems"
        case "out": return "output directory"
        default: return key
        }
    }

    /// Records a built-in verifier as the reward (`rewardName`, `rewardTolerance`).
    public mutating func useVerifier(_ verifier: Verifier) {
        rewardName = verifier.kind.name
        rewardTolerance = verifier.tolerance
    }

    /// The phases in the order they run.
    public var phases: [SCoReRecipePhase] {
        switch stages {
        case .one: return [SCoReRecipePhase(stage: .one, round: 1)]
        case .two: return [SCoReRecipePhase(stage: .two, round: 1)]
        case .both: return (1...max(1, rounds)).flatMap { [SCoReRecipePhase(stage: .one, round: $0), SCoReRecipePhase(stage: .two, round: $0)] }
        }
    }

    /// The evaluation interval in effect.
    public var evaluationInterval: Int { evalEvery ?? saveEvery }

    static let maxRounds = 100_000
    static let maxSteps = 10_000_000
    static let maxProblemsPerStep = 1_000_000
    static let maxShards = 65536

    public func validate() throws {
        func check(_ value: Int, _ range: ClosedRange<Int>, _ what: String) throws {
            guard range.contains(value) else {
                throw ScoreError.invalidArgument("\(what) must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
            }
        }
        try check(rounds, 1...Self.maxRounds, "rounds")
        if rounds != 1 && stages != .both {
            throw ScoreError.invalidArgument("rounds repeat Stage I + Stage II: \(rounds) rounds need both stages, not Stage \(stages == .one ? "I" : "II") alone")
        }
        try check(stepsPerStage, 1...Self.maxSteps, "steps per stage")
        if let stageOneSteps { try check(stageOneSteps, 1...Self.maxSteps, "Stage I steps") }
        if let stageTwoSteps { try check(stageTwoSteps, 1...Self.maxSteps, "Stage II steps") }
        try check(problemsPerStep, 1...Self.maxProblemsPerStep, "problems per step")
        try check(saveEvery, 1...Self.maxSteps, "the checkpoint interval (save every)")
        if let evalEvery { try check(evalEvery, 1...Self.maxSteps, "the evaluation interval (eval every)") }
        try check(shards, 1...Self.maxShards, "shards")
        if anchorStageTwoToStageOne && stages != .both {
            throw ScoreError.invalidArgument("anchoring Stage II to Stage I's policy needs both stages")
        }
        for stage in Set(phases.map(\.stage.rawValue)).sorted() {
            var c = score
            c.objective.stage = SCoReStage(rawValue: stage)!
            try c.validate()
        }
        let lr = training.optimizer.learningRate
        guard lr.isFinite, lr > 0 else { throw ScoreError.invalidArgument("the learning rate must be finite and > 0, got \(lr)") }
        guard rewardTolerance.isFinite, rewardTolerance >= 0 else {
            throw ScoreError.invalidArgument("the reward tolerance must be finite and ≥ 0, got \(rewardTolerance)")
        }
    }

    /// The SCoRe settings of one step: the phase's stage, and a sampling seed
    /// of its own, so that the rollouts of step n depend on n alone.
    public func stepConfig(stage: SCoReStage, step: Int) -> SCoReConfig {
        var c = score
        c.objective.stage = stage
        c.sampling.seed = seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15
        return c
    }

    /// The optimiser of a new run: `training` with the recipe's seed.
    var trainerConfig: TrainerConfig {
        var t = training
        t.seed = seed
        return t
    }

    private var lora: LoRAConfig? {
        if case .lora(let c) = training.parameters { return c }
        return nil
    }

    /// What a resumed run must share with the run it continues, as
    /// `score_state.json` records it ("settings"): the keys and values
    /// score-cli train has always written, so its checkpoints resume.
    public func fingerprint(problems: Int) -> JSON {
        let format = score.format
        let kl: String = switch training.objective.klEstimator {
        case .none: "none"
        case .exact: "exact"
        case .k1: "k1"
        case .k3: "k3"
        }
        var fields: [(String, JSON)] = [
            ("stage", .string(stages.rawValue)), ("problems_per_step", .int(Int64(problemsPerStep))),
            ("samples", .int(Int64(score.samplesPerProblem))), ("attempts", .int(Int64(score.attempts))),
            ("alpha", JSON.number(Double(score.objective.alpha))), ("beta1", JSON.number(Double(score.objective.beta1))),
            ("beta2", JSON.number(Double(score.objective.beta2))), ("lr", JSON.number(Double(training.optimizer.learningRate))),
            ("kl", .string(kl)), ("update", .string(score.objective.update == .filteredSFT ? "star" : "reinforce")),
            ("reference", .string(anchorStageTwoToStageOne ? "stage1" : "base")),
            ("temperature", JSON.number(Double(score.sampling.temperature))),
            ("max_new_tokens", .int(Int64(score.maxNewTokens))), ("instruction", .string(format.instruction)),
            ("task_prompt", .string(format.taskPrompt)), ("system", format.systemPrompt.map { .string($0) } ?? .null),
            ("verifier", .string(rewardName)), ("tolerance", JSON.number(rewardTolerance)),
            ("lora_rank", .int(Int64(lora?.rank ?? 0))), ("lora_alpha", JSON.number(Double(lora?.alpha ?? 0))),
            ("micro_batch", .int(Int64(score.microBatchSize))), ("seed", .string(String(seed))),
        ]
        // Settings score-cli cannot change are recorded only when they differ
        // from its values (`optionalFingerprint`), so its files stay as they were.
        for (key, value) in optionalFields where value != Self.optionalFingerprint.first(where: { $0.0 == key })!.1 {
            fields.append((key, value))
        }
        return .object(fields + [("problems", .int(Int64(problems)))])
    }

    private var optionalFields: [(String, JSON)] {
        let targets = lora.map { $0.targets.map(\.rawValue).sorted().joined(separator: ",") } ?? "all"
        let all = LoRATarget.allCases.map(\.rawValue).sorted().joined(separator: ",")
        return [("top_k", .int(Int64(score.sampling.topK))), ("top_p", JSON.number(Double(score.sampling.topP))),
                ("lora_targets", .string(targets == all ? "all" : targets))]
    }

    /// Fingerprint keys that a checkpoint without them had at these values.
    static let optionalFingerprint: [(String, JSON)] = [("top_k", .int(0)), ("top_p", JSON.number(1.0 as Double)), ("lora_targets", .string("all"))]
}
