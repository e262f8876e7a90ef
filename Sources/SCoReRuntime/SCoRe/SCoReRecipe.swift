/// SCoRe's recipe (Kumar et al. 2024) as score-cli train runs it, for any
/// host: Stage I, Stage II, or rounds of both, each step on
/// `problemsPerStep` problems drawn in a seeded epoch-wise shuffle, with
/// periodic held-out evaluation, resumable checkpoints and the export of the
/// best model.
///
/// In the output directory OUT:
///  - OUT/last is a resumable checkpoint (the trainer's, plus
///    `score_state.json`), written every `saveEvery` steps and at the end;
///  - OUT/best is the exported model (a Hugging Face directory) whose window
///    since the previous save had the highest mean training reward of the
///    last attempt.
/// Both are replaced atomically. A run created with `resume: true` continues
/// OUT/last with the rollouts and updates an uninterrupted run would have made.
///
/// It prints nothing: `onStep` hears every step (statistics, phase, held-out
/// metrics), `progress` every rollout, reward, reference and update phase
/// (`ProgressHandler`; returning false stops the run). Under a `Collective`
/// every worker runs the recipe over the same problems and takes its share
/// of each step; worker 0 alone evaluates and writes OUT.
public final class SCoReRecipe {
    /// What one step did, where the run stands after it.
    public struct StepReport {
        public var stats: SCoReStepStats
        public var stage: SCoReStage
        /// The round of the phase (1-based).
        public var round: Int
        /// Steps done in the run, this one included (a resumed run counts on).
        public var step: Int
        public var stepInStage: Int
        /// The step the run ends at.
        public var totalSteps: Int
        /// Held-out metrics, on the steps that evaluated (worker 0 only).
        public var heldOut: SelfCorrectionMetrics?
        /// Seconds of training, earlier sessions of the run included.
        public var elapsed: Double
    }

    public let settings: SCoReRecipeSettings
    public let phases: [SCoReRecipePhase]
    public let outputDirectory: String
    /// OUT/last and OUT/best.
    public let lastCheckpoint: String
    public let bestModel: String
    public let collective: Collective
    /// Problems per step in effect: the setting, or the whole training set when it is smaller.
    public let problemsPerStep: Int
    /// The step the run stood at when this object was created (0 for a new run).
    public let resumedAtStep: Int
    public private(set) var state: SCoReRecipeState
    /// Hears every step, after its held-out evaluation and before its
    /// checkpoint; an error it throws stops the run (OUT/last keeps the
    /// previous checkpoint).
    public var onStep: ((StepReport) throws -> Void)?
    /// Hears the rollouts, rewards, reference scoring, updates and held-out
    /// evaluation, and may stop them (`ProgressHandler`): `run` then throws
    /// `ScoreError.aborted`, and OUT/last holds the last checkpoint.
    public var progress: ProgressHandler?

    private let data: ProblemSet
    private let heldOut: ProblemSet?
    private let reward: SCoReTrainer.RewardFunction
    /// The trainer the run steps (weights, optimiser state): for a host that
    /// evaluates, exports or branches from the policy between steps (`onStep`).
    public let trainer: Trainer
    private var order: SCoReProblemOrder
    /// Last-attempt training rewards since the previous save (picks OUT/best).
    private var window: [Double] = []
    private let started = Trainer.now()
    /// A run that failed or was stopped has state ahead of its checkpoint.
    private var interrupted = false
    private var writes: Bool { collective.rank == 0 }

    /// Loads OUT/last (`resume`) or starts a new run over `base`, which must
    /// have a tokenizer (rollouts are text); nothing is trained until `run`.
    /// A new run refuses an OUT that already holds one; a resumed run must
    /// have the settings its checkpoint records (`fingerprint`), the step
    /// counts aside. `reward(problem, attempt, reference)` scores the
    /// training attempts and the held-out ones.
    public init(model base: Model, outputDirectory out: String, problems data: ProblemSet, heldOut: ProblemSet? = nil,
                reward: @escaping SCoReTrainer.RewardFunction, settings: SCoReRecipeSettings, resume: Bool = false,
                collective: Collective = SingleProcess.shared, progress: ProgressHandler? = nil,
                onStep: ((StepReport) throws -> Void)? = nil) throws {
        try settings.validate()
        guard !out.isEmpty else { throw ScoreError.invalidArgument("the output directory is empty") }
        for (set, name) in [(data, "training"), (heldOut ?? data, "held-out")] {
            guard set.count > 0 else { throw ScoreError.invalidArgument("no \(name) problems") }
            guard set.answers.count == set.count else {
                throw ScoreError.invalidArgument("\(set.answers.count) answers for \(set.count) \(name) problems")
            }
        }
        self.settings = settings
        self.data = data
        self.heldOut = heldOut
        self.reward = reward
        self.collective = collective
        self.progress = progress
        self.onStep = onStep
        phases = settings.phases
        outputDirectory = out
        lastCheckpoint = Files.join(out, "last")
        bestModel = Files.join(out, "best")
        problemsPerStep = min(settings.problemsPerStep, data.count)
        order = SCoReProblemOrder(count: data.count, seed: settings.seed)
        if Files.exists(out) && !Files.isDirectory(out) { throw ScoreError.io("\(out) exists and is not a directory") }
        try AtomicDirectory.recover(lastCheckpoint)
        let name = settings.settingName
        if resume {
            guard Files.exists(Files.join(lastCheckpoint, "trainer_state.json")) else {
                throw ScoreError.invalidArgument("\(name("resume")): \(lastCheckpoint) holds no checkpoint to continue")
            }
            state = try SCoReRecipeState.read(lastCheckpoint, settings: settings, problems: data.count)
            trainer = try Trainer.resume(from: lastCheckpoint, base: base)
        } else {
            // OUT/best without OUT/last is what a run killed during its first
            // checkpoint leaves (best is written first): nothing to resume, so
            // this run starts over and replaces it.
            guard !Files.exists(lastCheckpoint) else {
                throw ScoreError.invalidArgument("\(out) already holds a run; pass \(name("resume")) to continue it, or choose another \(name("out"))")
            }
            state = SCoReRecipeState()
            trainer = try Trainer(model: base, config: settings.trainerConfig)
        }
        resumedAtStep = state.step
        trainer.collective = collective
        // Fails here, before anything is written, when the model cannot do rollouts (no tokenizer or chat template).
        _ = try SCoReTrainer(resuming: trainer, config: settings.stepConfig(stage: phases[0].stage, step: 0))
        try collective.barrier()  // every worker has checked the output before worker 0 writes into it
        if writes { try Files.makeDirectories(out) }
    }

    /// Steps left from the current position to the end of the phases.
    private var remainingSteps: Int {
        (state.phase..<phases.count).reduce(0) { $0 + max(0, settings.steps(for: phases[$1].stage) - ($1 == state.phase ? state.stepInStage : 0)) }
    }

    /// The step the run ends at.
    public var totalSteps: Int { state.step + remainingSteps }

    /// The phase the run is in (the last one once it has finished).
    public var currentPhase: SCoReRecipePhase { phases[min(state.phase, phases.count - 1)] }

    /// Trains from where the run stands to the end of its phases. Errors
    /// (the progress handler or `onStep` stopping it included) leave OUT/last
    /// at the last checkpoint; continue with a new `SCoReRecipe(resume: true)`.
    public func run() throws {
        guard !interrupted else {
            throw ScoreError.invalidArgument("this run was stopped or failed; continue it from \(lastCheckpoint) with a resumed recipe")
        }
        do {
            try runPhases()
        } catch {
            interrupted = true
            throw error
        }
    }

    private func runPhases() throws {
        let total = totalSteps
        while state.phase < phases.count {
            guard state.stepInStage < settings.steps(for: phases[state.phase].stage) else {
                state.phase += 1
                state.stepInStage = 0
                continue
            }
            let phase = phases[state.phase]
            // A view per step carries the step's stage and sampling seed; rollouts draw their random
            // streams from the optimiser step, so a resumed run samples what the uninterrupted run sampled.
            let score = try SCoReTrainer(resuming: trainer, config: settings.stepConfig(stage: phase.stage, step: state.step))
            score.emulatedWorkers = collective.size > 1 ? 1 : settings.shards
            score.progress = progress
            if phase.stage == .two && state.stepInStage == 0 && settings.anchorStageTwoToStageOne { try score.useCurrentPolicyAsReference() }
            var problems: [String] = [], references: [String] = []
            for i in 0..<problemsPerStep {
                let p = order.index(at: state.dataPosition + i)
                problems.append(data.problems[p])
                references.append(data.answers[p])
            }
            let stats = try score.step(problems: problems, references: references, reward: reward)
            state.step += 1
            state.stepInStage += 1
            state.dataPosition += problemsPerStep
            window.append(stats.rewardPerTurn.last ?? 0)
            var evaluated: SelfCorrectionMetrics? = nil
            if writes, let heldOut, state.step % settings.evaluationInterval == 0 {
                evaluated = try evaluate(score.policyModel, heldOut)
            }
            try onStep?(StepReport(stats: stats, stage: phase.stage, round: phase.round, step: state.step, stepInStage: state.stepInStage,
                                   totalSteps: total, heldOut: evaluated, elapsed: state.elapsed + Trainer.now() - started))
            let finished = state.stepInStage == settings.steps(for: phase.stage) && state.phase == phases.count - 1
            if state.step % settings.saveEvery == 0 || finished { try checkpoint() }
        }
        try collective.barrier()  // worker 0's last checkpoint is written before any worker returns
    }

    /// OUT/best first (when this window beat every earlier one), then OUT/last
    /// with the state that records it.
    private func checkpoint() throws {
        guard writes else { window = []; return }
        if !window.isEmpty {
            let mean = window.reduce(0, +) / Double(window.count)
            if state.bestReward.map({ mean > $0 }) ?? true {
                try trainer.exportModel(to: bestModel)
                state.bestReward = mean
                state.bestStep = state.step
            }
            window = []
        }
        var saved = state
        saved.elapsed += Trainer.now() - started
        let text = try saved.json(settings, phases: phases, problems: data.count).serialized()
        try trainer.save(to: lastCheckpoint, extraFiles: [(SCoReRecipeState.file, text)])
    }

    /// Greedy attempts on the held-out problems, 16 decoded together.
    private func evaluate(_ policy: Model, _ heldOut: ProblemSet) throws -> SelfCorrectionMetrics {
        var evaluator = SelfCorrectionEvaluator(model: policy, format: settings.score.format, maxNewTokens: settings.score.maxNewTokens,
                                                attempts: max(2, settings.score.attempts))
        evaluator.progress = progress
        var rewards: [[Float]] = [], texts: [[String]] = []
        for first in stride(from: 0, to: heldOut.count, by: 16) {
            let range = first..<min(first + 16, heldOut.count)
            var scored: [Float] = []  // in the order the evaluator asks: rollout by rollout, attempt by attempt
            let (_, rollouts) = try evaluator.evaluate(problems: Array(heldOut.problems[range]), references: Array(heldOut.answers[range])) {
                problem, attempt, reference in
                let r = try self.reward(problem, attempt, reference)
                scored.append(r)
                return r
            }
            var k = 0
            for r in rollouts {
                rewards.append(Array(scored[k..<k + r.attempts.count]))
                texts.append(r.attempts.map(\.text))
                k += r.attempts.count
            }
        }
        return SelfCorrectionMetrics(rewards: rewards, texts: texts)
    }
}
