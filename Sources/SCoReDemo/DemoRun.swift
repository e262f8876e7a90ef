#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

/// The demo's budget and settings. The defaults finish in minutes on two
/// cores; every number is a knob of `score-cli demo`.
public struct DemoSettings: Sendable {
    public var seed: UInt64 = 0
    public var workDirectory = "demo-run"
    public var heldOut = 200
    public var model = ToyModelFiles()
    public var task = DemoTaskKind.carry
    public var pairs = PairSumTask()
    public var carry = CarryTask()
    /// The warm start stops at the first check (every `sftCheckEvery` steps)
    /// where greedy attempt-1 accuracy on training problems reaches this, or
    /// after `sftSteps`: a mid-range starting point, as the paper's base models have.
    public var sftTargetAccuracy = 0.5
    public var sftCheckEvery = 50
    /// The learning-rate schedule's length (cosine decay) and the step limit
    /// of the last attempt.
    public var sftSteps = 1500
    /// Learning to add has a plateau whose length depends on the initial
    /// weights and on the summation order of the kernels: most starts leave
    /// it by step 300–500, a few never do within the schedule. An attempt
    /// still below the target at this step starts again from new random
    /// weights, at most `sftAttempts` times in all.
    public var sftRestartAfter = 800
    public var sftAttempts = 3
    public var sftBatch = 64
    public var sftLearningRate: Float = 1e-3
    public var stageOneSteps = 50
    public var stageTwoSteps = 150
    public var problemsPerStep = 32
    public var samplesPerProblem = 4
    public var rlLearningRate: Float = 1e-4
    public var alpha: Float = 10
    public var beta1: Float = 0.01
    public var beta2: Float = 0.1
    public var instruction = "Check your answer."
    /// Also train the single-turn RL ablation with the same budget.
    public var singleTurnAblation = true
    /// The paper's other ablations to train too, each with the same budget.
    public var ablations: [DemoAblation] = []
    /// Reuse the warm-started model a previous run left in the work
    /// directory (same seed and settings) instead of training it again.
    public var reuseWarmStart = false
    /// Stop with a `DemoPremiseFailure` instead of reporting results built
    /// on a failed premise: a warm start outside its band, a loss that is
    /// not finite, a trained model whose accuracy collapsed. Off only for
    /// plumbing tests on budgets too small to meet any premise.
    public var checkPremises = true
    /// Above this greedy Acc@t1 the base leaves too little to correct.
    public var sftMaximumAccuracy = 0.95

    public init() {}

    var format: RevisionFormat { RevisionFormat(instruction: instruction) }
}

/// The SCoRe paper's ablations besides single-turn RL (its Table 4).
public enum DemoAblation: String, Sendable, CaseIterable {
    /// Stage II from the warm-started model, for both stages' steps.
    case withoutStageOne = "no-stage1"
    /// Stage I, then Stage II with α = 0.
    case withoutShaping = "no-shaping"
    /// Stage I, then STaR-style filtered SFT instead of REINFORCE.
    case star

    public var title: String {
        switch self {
        case .withoutStageOne: return "without Stage I"
        case .withoutShaping: return "without reward shaping"
        case .star: return "STaR in Stage II"
        }
    }
}

/// The synthetic tasks the demo can train on.
public enum DemoTaskKind: String, Sendable, CaseIterable {
    /// Find the pair that adds up to a target (see PairSumTask).
    case pairs
    /// Two-digit addition with a student who forgets the carry (default; see CarryTask).
    case carry
}

/// A task as the demo uses it: held-out problems, a training-problem
/// sampler, the student who writes the warm-start answers, and the verifier.
struct DemoTask {
    struct Item { let text: String; let reference: String; let student: (inout TrainingRNG) -> (first: String, second: String) }
    let held: [Item]
    let draw: (inout TrainingRNG) -> Item
    /// The training problems the RL recipe draws from (never a held-out one).
    let trainingSet: (UInt64) -> ProblemSet
    let reward: SCoReTrainer.RewardFunction

    init(_ s: DemoSettings) {
        switch s.task {
        case .pairs:
            let task = s.pairs
            let (eval, excluded) = task.split(heldOut: s.heldOut, seed: s.seed)
            func item(_ p: PairSumTask.Problem) -> Item {
                Item(text: p.text, reference: p.reference, student: { (task.studentAnswer(p, rng: &$0), task.studentAnswer(p, rng: &$0)) })
            }
            held = eval.map(item)
            draw = { item(task.trainingProblem(rng: &$0, excluding: excluded)) }
            trainingSet = { seed in
                var rng = TrainingRNG(seed: seed ^ 0x7EA1), set = ProblemSet()
                for _ in 0..<20_000 {
                    let p = task.trainingProblem(rng: &rng, excluding: excluded)
                    set.problems.append(p.text)
                    set.answers.append(p.reference)
                }
                return set
            }
            reward = { problem, attempt, _ in PairSumTask.reward(problem: problem, attempt: attempt) }
        case .carry:
            let task = s.carry
            let (train, eval) = task.split(heldOut: s.heldOut, seed: s.seed)
            func item(_ p: CarryTask.Problem) -> Item {
                Item(text: p.text, reference: p.reference, student: { task.studentConversation(p, rng: &$0) })
            }
            held = eval.map(item)
            draw = { item(train[Int($0.nextUniform() * Double(train.count))]) }
            trainingSet = { _ in
                var set = ProblemSet()
                set.problems = train.map(\.text)
                set.answers = train.map(\.reference)
                return set
            }
            reward = { _, attempt, reference in CarryTask.reward(attempt: attempt, reference: reference) }
        }
    }
}

/// What the demo measured, per model, on the held-out split.
public struct DemoResult: Sendable {
    public var base = SelfCorrectionMetrics()
    public var stageOne = SelfCorrectionMetrics()
    public var stageTwo = SelfCorrectionMetrics()
    public var singleTurn: SelfCorrectionMetrics? = nil
    public var ablations: [(DemoAblation, SelfCorrectionMetrics)] = []
    public var seconds: [(String, Double)] = []
    /// Mean time split of the RL steps (rollout, reference scoring, update).
    public var rolloutSeconds = 0.0
    public var referenceSeconds = 0.0
    public var updateSeconds = 0.0
    public var rlSteps = 0
    public var rolloutTokensPerSecond = 0.0
}

/// Progress reports, for a progress bar or a log.
public enum DemoEvent {
    case phase(String)
    case sft(step: Int, of: Int, loss: Double, accuracy: Double?)
    case rl(phase: String, step: Int, of: Int, stats: SCoReStepStats)
    case evaluated(String, SelfCorrectionMetrics)
}

/// A result the demo will not report, because what it rests on failed; the
/// description says what failed and what to try.
public struct DemoPremiseFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// `score-cli demo`: a model from nothing, a warm start by SFT, SCoRe's two
/// stages, the single-turn ablation, and the five metrics for each.
public struct DemoRun {
    public let settings: DemoSettings

    public init(settings: DemoSettings) { self.settings = settings }

    public func run(report: @escaping (DemoEvent) -> Void) throws -> DemoResult {
        let s = settings
        var result = DemoResult()
        var clock = Trainer.now()
        func lap(_ name: String) { let now = Trainer.now(); result.seconds.append((name, now - clock)); clock = now }
        let task = DemoTask(s)
        let evalProblems = task.held.map(\.text), evalReferences = task.held.map(\.reference)
        let reward = task.reward

        try Files.makeDirectories(s.workDirectory)
        try writeHeldOut(task)
        let base: Model
        let warm = Files.join(s.workDirectory, "sft")
        if s.reuseWarmStart && Files.exists(Files.join(warm, "model.safetensors")) {
            report(.phase("reusing the warm-started model in \(warm)"))
            base = try Model.load(directory: warm)
        } else {
            base = try warmStart(task: task, report: report)
        }
        lap("sft")

        func evaluate(_ name: String, _ model: Model) throws -> SelfCorrectionMetrics {
            let evaluator = SelfCorrectionEvaluator(model: model, format: s.format, maxNewTokens: 8)
            let (m, _) = try evaluator.evaluate(problems: evalProblems, references: evalReferences, reward: reward)
            report(.evaluated(name, m))
            // RL that halves the base's accuracy has diverged: its numbers say nothing about SCoRe.
            if s.checkPremises, name != "base (after SFT)", max(m.accuracyT1, m.accuracyT2) < 0.5 * result.base.accuracyT1 {
                throw DemoPremiseFailure(description: "demo: \(name) collapsed (held-out Acc@t1 \(percent(m.accuracyT1)), Acc@t2 \(percent(m.accuracyT2)) against the base's \(percent(result.base.accuracyT1))): RL diverged; try a smaller --rl-lr or another --seed")
            }
            return m
        }
        result.base = try evaluate("base (after SFT)", base)
        lap("eval")

        var rlSeconds = (0.0, 0.0, 0.0, 0.0)
        /// Every RL step, SCoRe's, an ablation's: the premise check, the time split, the progress report.
        func account(_ stats: SCoReStepStats, phase: String, step: Int, of steps: Int) throws {
            if s.checkPremises, stats.skippedNonFinite || !stats.loss.isFinite {
                throw DemoPremiseFailure(description: "demo: \(phase) step \(step): the loss is not finite (\(stats.loss)); the run diverged; try a smaller --rl-lr")
            }
            rlSeconds.0 += stats.rolloutSeconds
            rlSeconds.1 += stats.referenceSeconds
            rlSeconds.2 += stats.updateSeconds
            rlSeconds.3 += Double(stats.generatedTokens)
            result.rlSteps += 1
            report(.rl(phase: phase, step: step, of: steps, stats: stats))
        }
        func reinforce(_ trainer: SCoReTrainer, phase: String, steps: Int, offset: Int) throws {
            var rng = TrainingRNG(seed: s.seed ^ 0x5C0E, counter: UInt64(offset) << 20)
            for step in 0..<steps {
                let problems = (0..<s.problemsPerStep).map { _ in task.draw(&rng) }
                let stats = try trainer.step(problems: problems.map(\.text), references: problems.map(\.reference), reward: reward)
                try account(stats, phase: phase, step: step + 1, of: steps)
            }
        }
        var config = SCoReConfig()
        config.objective = SCoReObjective(stage: .one, alpha: s.alpha, beta1: s.beta1, beta2: s.beta2)
        config.samplesPerProblem = s.samplesPerProblem
        config.maxNewTokens = 8
        config.format = s.format
        var training = TrainerConfig.scoreDefaults()
        training.optimizer.learningRate = s.rlLearningRate
        training.seed = s.seed

        // SCoRe and single-turn RL run the library's recipe (SCoReRecipe, as score-cli train and
        // score_rl_run_recipe do) over the same training problems.
        let problems = task.trainingSet(s.seed)
        var recipe = SCoReRecipeSettings()
        recipe.problemsPerStep = s.problemsPerStep
        recipe.seed = s.seed
        recipe.score = config
        recipe.training = training
        recipe.saveEvery = max(1, s.stageOneSteps)
        func run(_ settings: SCoReRecipeSettings, phase name: @escaping (SCoReStage) -> String, directory: String, export: String,
                 atStep: @escaping (SCoReRecipe, SCoReRecipe.StepReport) throws -> Void = { _, _ in }) throws -> Model {
            let out = Files.join(s.workDirectory, directory)
            for sub in ["last", "best"] { try AtomicDirectory.removeFlat(Files.join(out, sub)) }
            let run = try SCoReRecipe(model: base, outputDirectory: out, problems: problems, reward: reward, settings: settings)
            run.onStep = { [unowned run] step in
                try account(step.stats, phase: name(step.stage), step: step.stepInStage, of: settings.steps(for: step.stage))
                try atStep(run, step)
            }
            try run.run()
            try run.trainer.exportModel(to: Files.join(s.workDirectory, export))
            return try run.trainer.model.policyModel()
        }

        // Ablations that share Stage I branch from its checkpoint (optimiser state included).
        let stageOneCheckpoint = Files.join(s.workDirectory, "stage1-checkpoint")
        do {
            report(.phase("SCoRe Stage I: reward attempt 2, pin attempt 1 to the base (β2 = \(s.beta2)); then Stage II"))
            var both = recipe
            both.stages = .both
            (both.stageOneSteps, both.stageTwoSteps) = (max(1, s.stageOneSteps), max(1, s.stageTwoSteps))
            let policy = try run(both, phase: { $0 == .one ? "stage I" : "stage II" }, directory: "score-run", export: "stage2") { run, step in
                guard step.stage == .one, step.stepInStage == s.stageOneSteps else { return }
                let policy = try run.trainer.model.policyModel()
                result.stageOne = try evaluate("SCoRe Stage I", policy)
                try run.trainer.exportModel(to: Files.join(s.workDirectory, "stage1"))
                if s.ablations.contains(where: { $0 != .withoutStageOne }) { try run.trainer.save(to: stageOneCheckpoint) }
                report(.phase("SCoRe Stage II: both attempts rewarded, attempt 2 shaped (α = \(s.alpha))"))
            }
            result.stageTwo = try evaluate("SCoRe Stage II", policy)
        }
        lap("score")

        if s.singleTurnAblation {
            report(.phase("ablation: single-turn RL on attempt 1, same budget"))
            var single = recipe
            single.stages = .two
            single.stepsPerStage = max(1, s.stageOneSteps + s.stageTwoSteps)
            single.score.attempts = 1
            let policy = try run(single, phase: { _ in "single-turn" }, directory: "single-turn-run", export: "single-turn")
            result.singleTurn = try evaluate("single-turn RL", policy)
            lap("single-turn")
        }
        for ablation in s.ablations {
            report(.phase("ablation: \(ablation.title), same budget"))
            var variant = config
            variant.objective.stage = .two
            let trainer: SCoReTrainer
            var steps = s.stageTwoSteps, offset = s.stageOneSteps
            switch ablation {
            case .withoutStageOne:
                trainer = try SCoReTrainer(model: base, config: variant, training: training)
                (steps, offset) = (s.stageOneSteps + s.stageTwoSteps, 0)
            case .withoutShaping, .star:
                if ablation == .withoutShaping { variant.objective.alpha = 0 } else { variant.objective.update = .filteredSFT }
                trainer = try SCoReTrainer(resuming: try Trainer.resume(from: stageOneCheckpoint, base: base), config: variant)
            }
            try reinforce(trainer, phase: ablation.rawValue, steps: steps, offset: offset)
            result.ablations.append((ablation, try evaluate(ablation.title, trainer.policyModel)))
            lap(ablation.rawValue)
        }
        let n = Double(max(result.rlSteps, 1))
        result.rolloutSeconds = rlSeconds.0 / n
        result.referenceSeconds = rlSeconds.1 / n
        result.updateSeconds = rlSeconds.2 / n
        result.rolloutTokensPerSecond = rlSeconds.0 > 0 ? rlSeconds.3 / rlSeconds.0 : 0
        return result
    }

    /// The held-out split as `score-cli eval` reads it, so every model the
    /// demo leaves behind can be evaluated again (or differently) by hand.
    private func writeHeldOut(_ task: DemoTask) throws {
        var text = ""
        for item in task.held {
            text += try JSON.object([("problem", .string(item.text)), ("answer", .string(item.reference))]).serialized(indent: false) + "\n"
        }
        let file = try OutputFile(path: Files.join(settings.workDirectory, "held_out.jsonl"))
        try file.write(text)
        try file.close()
    }

    /// SFT from random weights on the student's two-turn conversations,
    /// tokenised exactly as the revise loop builds them, until greedy
    /// attempt-1 accuracy on (training) problems reaches the target; an
    /// attempt stuck below it at `sftRestartAfter` steps starts again from
    /// other random weights. Returns the saved and reloaded warm-started model.
    private func warmStart(task: DemoTask, report: (DemoEvent) -> Void) throws -> Model {
        let s = settings
        var checkRNG = TrainingRNG(seed: s.seed ^ 0xC4EC)
        let check = (0..<200).map { _ in task.draw(&checkRNG) }
        var tried: [String] = []
        for attempt in 0..<max(1, s.sftAttempts) {
            let last = attempt == max(1, s.sftAttempts) - 1
            // Attempt 0 keeps the seed's own streams; later ones get streams of their own.
            let seed = attempt == 0 ? s.seed : s.seed ^ (UInt64(attempt) &* 0x9E37_79B9_7F4A_7C15)
            report(.phase("building a \(s.model.layers)-layer, \(s.model.hiddenSize)-wide model from nothing" + (attempt > 0 ? " (attempt \(attempt + 1) of \(s.sftAttempts): new random weights)" : "")))
            let initial = Files.join(s.workDirectory, "initial")
            try s.model.write(to: initial, seed: seed)
            report(.phase("warm start: SFT on the student's answers until Acc@t1 ≥ \(Int(s.sftTargetAccuracy * 100))% (at most \(last ? s.sftSteps : min(s.sftSteps, s.sftRestartAfter)) steps)"))
            let (trainer, reached, steps) = try supervise(try Model.load(directory: initial), task: task, check: check, seed: seed,
                                                          limit: last ? s.sftSteps : min(s.sftSteps, s.sftRestartAfter), report: report)
            tried.append("\(percent(reached)) after \(steps) steps")
            // SCoRe needs first attempts that are often right and often wrong.
            let inBand = reached >= s.sftTargetAccuracy && reached <= s.sftMaximumAccuracy
            if inBand || !s.checkPremises || last {
                if s.checkPremises, !inBand {
                    let band = "\(percent(s.sftTargetAccuracy))–\(percent(s.sftMaximumAccuracy))"
                    throw DemoPremiseFailure(description: "demo: the warm start reached Acc@t1 \(tried.joined(separator: ", then ")) (\(tried.count) attempt\(tried.count == 1 ? "" : "s")), outside its band \(band): there is no base model worth correcting; try more --sft-steps or another --seed")
                }
                let out = Files.join(s.workDirectory, "sft")
                try trainer.exportModel(to: out)
                return try Model.load(directory: out)
            }
        }
        throw ScoreError.internal("the warm start ended without a model")
    }

    /// One warm-start attempt: at most `limit` SFT steps from `initial`,
    /// stopping at the first check that reaches the target. Returns the
    /// trainer, the last checked Acc@t1 and the steps taken.
    private func supervise(_ initial: Model, task: DemoTask, check: [DemoTask.Item], seed: UInt64, limit: Int,
                           report: (DemoEvent) -> Void) throws -> (Trainer, Double, Int) {
        let s = settings
        guard let tokenizer = initial.tokenizer else { throw ScoreError.internal("the toy model has no tokenizer") }
        let loop = try RevisionLoop(model: initial, codec: tokenizer, template: try ChatTemplate.load(directory: initial.directory),
                                    format: s.format)
        let end = Int32(1)
        var config = TrainerConfig()
        config.optimizer = AdamWConfig(learningRate: s.sftLearningRate, weightDecay: 0)
        config.schedule = LRSchedule(kind: .cosine, warmupSteps: 20, totalSteps: s.sftSteps)
        config.seed = seed
        let trainer = try Trainer(model: initial, config: config)
        var rng = TrainingRNG(seed: seed ^ 0x5F7)
        let policy = try trainer.model.policyModel()
        var smoothed = 0.0
        var reached = 0.0, steps = 0
        for step in 0..<limit {
            var batch: [TrainingSequence] = []
            for _ in 0..<s.sftBatch {
                let p = task.draw(&rng)
                let answers = p.student(&rng)
                let first = try tokenizer.encode(answers.first, addSpecialTokens: false, parseSpecial: false) + [end]
                let second = try tokenizer.encode(answers.second, addSpecialTokens: false, parseSpecial: false) + [end]
                let prompt = try loop.promptTokens(p.text)
                let glue = Array(loop.glue.dropFirst())  // the end-of-turn token closes attempt 1
                let tokens = prompt + first + glue + second
                var mask = [Float](repeating: 0, count: tokens.count)
                for i in prompt.count..<(prompt.count + first.count) { mask[i] = 1 }
                for i in (tokens.count - second.count)..<tokens.count { mask[i] = 1 }
                batch.append(TrainingSequence(tokens: tokens, mask: mask))
            }
            let stats = try trainer.step(batch)
            steps = step + 1
            if s.checkPremises, !stats.loss.isFinite {
                throw DemoPremiseFailure(description: "demo: the warm start's loss is not finite at step \(step + 1); try another --seed")
            }
            smoothed = step == 0 ? stats.loss : 0.95 * smoothed + 0.05 * stats.loss
            if (step + 1) % 10 == 0 { report(.sft(step: step + 1, of: limit, loss: smoothed, accuracy: nil)) }
            if (step + 1) % s.sftCheckEvery == 0 || step + 1 == limit {
                let evaluator = SelfCorrectionEvaluator(model: policy, format: s.format, maxNewTokens: 8, attempts: 1)
                let (m, _) = try evaluator.evaluate(problems: check.map(\.text), references: check.map(\.reference), reward: task.reward)
                report(.sft(step: step + 1, of: limit, loss: smoothed, accuracy: m.accuracyT1))
                reached = m.accuracyT1
                if m.accuracyT1 >= s.sftTargetAccuracy { break }
            }
        }
        return (trainer, reached, steps)
    }
}

private func percent(_ x: Double) -> String { String((1000 * x).rounded() / 10) + "%" }
