#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

/// score-cli train: SCoRe (Kumar et al. 2024) on a problems file — Stage I,
/// Stage II, or rounds of both — with a per-step metrics log, periodic
/// held-out evaluation, atomic resumable checkpoints and the best-reward export.
enum TrainCommand {
    static let help = """
    usage: score-cli train DIR --stage 1|2|both --data problems.jsonl --out OUT [options]

    Trains the model in DIR with SCoRe. Every step samples --problems-per-step
    problems (a seeded shuffle, epoch by epoch), K rollouts of --attempts
    attempts each from the current policy, checks every attempt with the
    verifier and takes one policy-gradient step (leave-one-out baseline per
    turn, KL to the reference per turn).
      Stage I:  only the last attempt is rewarded; earlier attempts are pinned
                to the reference with the strong KL β2 (the last gets β1).
      Stage II: every attempt is rewarded, attempts ≥ 2 with the bonus
                α·(r(y_t) − r(y_{t−1})); weak KL β1 on all.
      both:     Stage I then Stage II, --rounds times.
    --attempts 1 is the single-turn RL ablation (Stage II only), --alpha 0 the
    one without reward shaping, --update star the STaR one.

    OUT/last is a resumable checkpoint (every --save-every steps and at the
    end); OUT/best is the exported model whose window since the previous save
    had the highest mean training reward of the last attempt. Both are
    replaced atomically. --resume continues OUT/last where it stopped, with the
    same rollouts and updates an uninterrupted run would have made.

    data: JSONL, one {"problem": "...", "answer": "..."} per line ("question"
    for the problem; "reference", "solution" or "tests" for the answer).

    options:
      --steps N            steps per stage (default 100)
      --rounds R           with --stage both: repeat Stage I + Stage II R times (default 1)
      --problems-per-step N  (default 16; at most the number of problems)
      --samples K          rollouts per problem for the leave-one-out baseline (default 4)
    \(SelfCorrectionOptions.help)
      --alpha X            Stage II reward-shaping bonus (default 10; 0 = no shaping)
      --beta1 X            weak KL coefficient (default 0.01)
      --beta2 X            Stage I strong KL on the earlier attempts (default 0.1)
      --lr X               Adam learning rate (default 5e-6)
      --kl E               exact | k1 | k3 KL estimator (default k3)
      --update U           reinforce | star (STaR ablation: SFT on accepted attempts) (default reinforce)
      --reference R        Stage II KL anchor: base | stage1 (the policy as Stage I ended;
                           it stays the anchor until the next Stage II begins) (default base)
      --temperature T      rollout sampling temperature (default 1)
      --lora-rank R        train LoRA adapters on all seven projections instead of every weight
      --lora-alpha A       (default 2·R)
      --micro-batch N      rollouts per forward/backward pass; memory only, same update (default 8)
      --shards N           sum each step's gradients in N shards, as N MPI workers do: one process
                           then reproduces `mpirun -np N score-cli train ...` bit for bit (default 1)

    Data-parallel: `mpirun -np N score-cli train ...` (Open MPI or MPICH, loaded at
    run time) gives each worker a contiguous share of every step's problems; the
    gradients and statistics are summed over the workers, so all take the same
    update. Rank 0 alone writes checkpoints, metrics (with "workers": N) and progress.
      --seed N             data order, sampling and LoRA initialisation (default 0)
      --eval FILE.jsonl    held-out problems, evaluated greedily every --eval-every steps
      --eval-every N       (default: --save-every)
      --save-every N       checkpoint interval in steps (default 25)
      --metrics FILE       JSONL log, one line per step (default OUT.metrics.jsonl)
      --resume             continue the run in OUT
      --threads N
    """

    static let valueOptions = SelfCorrectionOptions.valueOptions.union([
        "out", "stage", "steps", "rounds", "problems-per-step", "samples", "alpha", "beta1", "beta2", "lr", "kl", "update",
        "reference", "lora-rank", "lora-alpha", "micro-batch", "shards", "eval", "eval-every", "save-every", "metrics",
    ])
    static let flagOptions: Set<String> = ["help", "resume"]

    static func run(_ args: Arguments) throws {
        guard args.positional.count == 1 else { throw UsageError("train takes exactly one model directory") }
        guard let dataPath = args.options["data"] else { throw UsageError("train needs --data problems.jsonl") }
        guard let out = args.options["out"] else { throw UsageError("train needs --out OUT") }
        var settings = try TrainSettings(args)
        let data = try ProblemSet.load(dataPath)
        settings.problems = data.count
        let heldOut = try args.options["eval"].map(ProblemSet.load)
        let run = try TrainingRun(model: args.positional[0], out: out, metrics: args.options["metrics"], settings: settings,
                                  data: data, heldOut: heldOut, resume: args.flags.contains("resume"))
        try run.train()
    }
}

/// Every option of a run, checked; `fingerprint` holds what a resumed run
/// must share with the run it continues (the step counts may grow).
struct TrainSettings {
    let stageName: String
    let phases: [(stage: SCoReStage, round: Int)]
    let steps: Int
    let problemsPerStep: Int
    let saveEvery: Int
    let evalEvery: Int
    let anchorToStageOne: Bool
    let verifier: Verifier
    let seed: UInt64
    let score: SCoReConfig
    let training: TrainerConfig
    /// A single process sums each step in this many shards, as that many
    /// MPI workers do (`--shards`): it then equals their run bit for bit.
    let shards: Int
    /// The size of the training set (the data order depends on it).
    var problems = 0
    private let options: [(String, JSON)]
    var fingerprint: JSON { .object(options + [("problems", .int(Int64(problems)))]) }

    init(_ args: Arguments) throws {
        stageName = args.options["stage"] ?? ""
        let rounds = try args.int("rounds", default: 1, range: 1...100_000)
        switch stageName {
        case "1": phases = [(.one, 1)]
        case "2": phases = [(.two, 1)]
        case "both": phases = (1...rounds).flatMap { [(SCoReStage.one, $0), (SCoReStage.two, $0)] }
        case "": throw UsageError("train needs --stage 1, 2 or both")
        default: throw UsageError("--stage must be 1, 2 or both, got '\(stageName)'")
        }
        if args.options["rounds"] != nil && stageName != "both" { throw UsageError("--rounds repeats Stage I + Stage II: it needs --stage both") }
        steps = try args.int("steps", default: 100, range: 1...10_000_000)
        problemsPerStep = try args.int("problems-per-step", default: 16, range: 1...1_000_000)
        saveEvery = try args.int("save-every", default: 25, range: 1...10_000_000)
        if args.options["eval-every"] != nil && args.options["eval"] == nil { throw UsageError("--eval-every needs --eval FILE.jsonl") }
        evalEvery = try args.options["eval"] == nil ? 0 : args.int("eval-every", default: saveEvery, range: 1...10_000_000)
        let reference = args.options["reference"] ?? "base"
        guard reference == "base" || reference == "stage1" else { throw UsageError("--reference must be base or stage1, got '\(reference)'") }
        anchorToStageOne = reference == "stage1"
        if anchorToStageOne && stageName != "both" { throw UsageError("--reference stage1 anchors Stage II to Stage I's policy: it needs --stage both") }
        verifier = try SelfCorrectionOptions.verifier(args)
        seed = UInt64(try args.int("seed", default: 0, range: 0...Int(Int64.max)))

        var score = SCoReConfig()
        score.attempts = try args.int("attempts", default: 2, range: 1...64)
        score.samplesPerProblem = try args.int("samples", default: 4, range: 1...4096)
        score.maxNewTokens = try SelfCorrectionOptions.maxNewTokens(args)
        score.microBatchSize = try args.int("micro-batch", default: 8, range: 1...65536)
        shards = try args.int("shards", default: 1, range: 1...65536)
        score.format = try SelfCorrectionOptions.format(args)
        let temperature = try SFTCommand.float(args, "temperature", 1)
        guard temperature > 0 else { throw UsageError("--temperature must be > 0 (rollouts are samples), got \(temperature)") }
        score.sampling = SamplingParams(temperature: temperature)
        let updates: [String: SCoReUpdateRule] = ["reinforce": .reinforce, "star": .filteredSFT]
        let updateName = args.options["update"] ?? "reinforce"
        guard let update = updates[updateName] else { throw UsageError("--update must be reinforce or star, got '\(updateName)'") }
        score.objective = SCoReObjective(alpha: try SFTCommand.float(args, "alpha", 10), beta1: try SFTCommand.float(args, "beta1", 0.01),
                                         beta2: try SFTCommand.float(args, "beta2", 0.1), update: update)
        for stage in Set(phases.map(\.stage.rawValue)).sorted() {
            var c = score
            c.objective.stage = SCoReStage(rawValue: stage)!
            try c.validate()
        }
        self.score = score

        var training = TrainerConfig.scoreDefaults()
        let lr = try SFTCommand.float(args, "lr", 5e-6)
        guard lr > 0 else { throw UsageError("--lr must be > 0, got \(lr)") }
        training.optimizer.learningRate = lr
        let estimators: [String: KLEstimator] = ["exact": .exact, "k1": .k1, "k3": .k3]
        let klName = args.options["kl"] ?? "k3"
        guard let kl = estimators[klName] else { throw UsageError("--kl must be exact, k1 or k3, got '\(klName)'") }
        training.objective.klEstimator = kl
        training.seed = seed
        var loraRank = 0, loraAlpha: Float = 0
        if args.options["lora-rank"] != nil {
            loraRank = try args.int("lora-rank", default: 8, range: 1...65536)
            loraAlpha = try SFTCommand.float(args, "lora-alpha", Float(2 * loraRank))
            training.parameters = .lora(LoRAConfig(rank: loraRank, alpha: loraAlpha, targets: LoRATarget.allCases))
        } else if args.options["lora-alpha"] != nil {
            throw UsageError("--lora-alpha needs --lora-rank")
        }
        self.training = training

        let format = score.format
        options = [
            ("stage", .string(stageName)), ("problems_per_step", .int(Int64(problemsPerStep))),
            ("samples", .int(Int64(score.samplesPerProblem))), ("attempts", .int(Int64(score.attempts))),
            ("alpha", JSON.number(Double(score.objective.alpha))), ("beta1", JSON.number(Double(score.objective.beta1))),
            ("beta2", JSON.number(Double(score.objective.beta2))), ("lr", JSON.number(Double(lr))), ("kl", .string(klName)),
            ("update", .string(updateName)), ("reference", .string(reference)), ("temperature", JSON.number(Double(temperature))),
            ("max_new_tokens", .int(Int64(score.maxNewTokens))), ("instruction", .string(format.instruction)),
            ("task_prompt", .string(format.taskPrompt)), ("system", format.systemPrompt.map { .string($0) } ?? .null),
            ("verifier", .string(verifier.kind.name)), ("tolerance", JSON.number(verifier.tolerance)),
            ("lora_rank", .int(Int64(loraRank))), ("lora_alpha", JSON.number(Double(loraAlpha))),
            ("micro_batch", .int(Int64(score.microBatchSize))), ("seed", .string(String(seed))),
        ]
    }

    /// The SCoRe settings of one step: the phase's stage, and a sampling seed
    /// of its own, so that the rollouts of step n depend on n alone.
    func stepConfig(stage: SCoReStage, step: Int) -> SCoReConfig {
        var c = score
        c.objective.stage = stage
        c.sampling.seed = seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15
        return c
    }
}

/// Where a run stands; saved inside OUT/last with the weights it describes.
struct RunState {
    static let file = "score_state.json"
    static let format = "libscore-score-run"

    /// Index into the settings' phases, and steps done in it.
    var phase = 0
    var stepInStage = 0
    /// Steps done over all phases.
    var step = 0
    /// Problems drawn so far (the data order is a function of it).
    var dataPosition = 0
    var bestReward: Double? = nil
    var bestStep = 0
    var elapsed = 0.0

    func json(_ settings: TrainSettings) -> JSON {
        let current = settings.phases[min(phase, settings.phases.count - 1)]
        return .object([
            ("format", .string(Self.format)), ("version", .int(1)),
            ("stage", .int(Int64(current.stage.rawValue))), ("round", .int(Int64(current.round))),
            ("phase", .int(Int64(phase))), ("step_in_stage", .int(Int64(stepInStage))), ("step", .int(Int64(step))),
            ("data_position", .int(Int64(dataPosition))), ("best_reward", bestReward.map { JSON.number($0) } ?? .null),
            ("best_step", .int(Int64(bestStep))), ("elapsed", JSON.number(elapsed)), ("settings", settings.fingerprint),
        ])
    }

    /// The state in checkpoint `dir`, which must come from a run with `settings`.
    static func read(_ dir: String, settings: TrainSettings) throws -> RunState {
        let path = Files.join(dir, file)
        guard Files.exists(path) else { throw ScoreError.invalidArgument("\(dir) has no \(file): not a score-cli train checkpoint") }
        let json = try Files.readJSON(path)
        guard json["format"]?.stringValue == format, json["version"]?.intValue == 1 else {
            throw ScoreError.format("\(path): not a \(format) version 1 state")
        }
        let expected = try JSON.parse(try settings.fingerprint.serialized(indent: false), context: "settings")
        guard let saved = json["settings"]?.objectValue, case .object(let wanted) = expected else { throw ScoreError.format("\(path): no settings") }
        let differing = wanted.keys.filter { saved[$0] != wanted[$0] }.map { key in
            key == "problems" ? "--data (another number of problems)" : "--" + String(key.map { $0 == "_" ? "-" : $0 })
        }
        guard differing.isEmpty else {
            throw ScoreError.invalidArgument("\(dir) was trained with other settings (\(differing.joined(separator: ", "))); resume with the options of the original run")
        }
        var state = RunState()
        guard let phase = json["phase"]?.intValue, let inStage = json["step_in_stage"]?.intValue, let step = json["step"]?.intValue,
              let position = json["data_position"]?.intValue, let bestStep = json["best_step"]?.intValue,
              let elapsed = json["elapsed"]?.doubleValue, phase >= 0, inStage >= 0, step >= 0, position >= 0 else {
            throw ScoreError.format("\(path): missing or invalid phase / step / data position")
        }
        (state.phase, state.stepInStage, state.step, state.dataPosition, state.bestStep, state.elapsed) = (phase, inStage, step, position, bestStep, elapsed)
        state.bestReward = json["best_reward"]?.doubleValue
        return state
    }
}

/// The order problems are drawn in: a fresh seeded shuffle every epoch, so
/// the number of problems drawn so far alone says which come next.
struct ProblemOrder {
    let count: Int
    let seed: UInt64
    private var epoch = -1
    private var permutation: [Int] = []

    init(count: Int, seed: UInt64) {
        self.count = count
        self.seed = seed
    }

    mutating func index(at position: Int) -> Int {
        if position / count != epoch {
            epoch = position / count
            var rng = TrainingRNG(seed: seed ^ 0xDA7A_0DE7, counter: UInt64(epoch) << 32)
            permutation = Array(0..<count)
            for i in stride(from: count - 1, to: 0, by: -1) { permutation.swapAt(i, Int(rng.nextUniform() * Double(i + 1))) }
        }
        return permutation[position % count]
    }
}

/// One `score-cli train` invocation: loads or resumes, then steps through the
/// phases, logging, evaluating and checkpointing as it goes.
final class TrainingRun {
    let settings: TrainSettings
    let data: ProblemSet
    let heldOut: ProblemSet?
    let trainer: Trainer
    let last: String
    let best: String
    let metricsPath: String
    var state: RunState
    var order: ProblemOrder
    let problemsPerStep: Int
    let resumedAt: Int
    /// Last-attempt training rewards since the previous save (picks OUT/best).
    var window: [Double] = []
    var metrics: UnsafeMutablePointer<FILE>? = nil
    let started = BenchCommand.now()
    /// The workers of this run (mpirun); rank 0 alone writes files and progress.
    let workers: Collective
    var writes: Bool { workers.rank == 0 }

    init(model dir: String, out: String, metrics: String?, settings: TrainSettings, data: ProblemSet, heldOut: ProblemSet?,
         resume: Bool) throws {
        self.settings = settings
        self.data = data
        self.heldOut = heldOut
        workers = try MPIWorkers.fromEnvironment()
        last = Files.join(out, "last")
        best = Files.join(out, "best")
        metricsPath = metrics ?? (out.hasSuffix("/") ? String(out.dropLast()) : out) + ".metrics.jsonl"
        problemsPerStep = min(settings.problemsPerStep, data.count)
        order = ProblemOrder(count: data.count, seed: settings.seed)
        if Files.exists(out) && !Files.isDirectory(out) { throw ScoreError.io("\(out) exists and is not a directory") }
        try AtomicDirectory.recover(last)
        let base = try Model.load(directory: dir, options: modelLoadOptions)
        if resume {
            guard Files.exists(Files.join(last, "trainer_state.json")) else {
                throw ScoreError.invalidArgument("--resume: \(last) holds no checkpoint to continue")
            }
            state = try RunState.read(last, settings: settings)
            trainer = try Trainer.resume(from: last, base: base)
        } else {
            guard !Files.exists(last) && !Files.exists(best) else {
                throw ScoreError.invalidArgument("\(out) already holds a run; pass --resume to continue it, or choose another --out")
            }
            state = RunState()
            trainer = try Trainer(model: base, config: settings.training)
        }
        resumedAt = state.step
        trainer.collective = workers
        // Fails here, before anything is written, when the model cannot do rollouts (no tokenizer or chat template).
        _ = try SCoReTrainer(resuming: trainer, config: settings.stepConfig(stage: settings.phases[0].stage, step: 0))
        try workers.barrier()  // every rank has checked the output before rank 0 writes into it
        if writes {
            try Files.makeDirectories(out)
            self.metrics = try MetricsLog.open(metricsPath, resumingAt: resume ? state.step : nil)
        }
    }

    deinit { if let metrics { fclose(metrics) } }

    /// Steps left from the current position to the end of the phases.
    private var remainingSteps: Int {
        (state.phase..<settings.phases.count).reduce(0) { $0 + max(0, settings.steps - ($1 == state.phase ? state.stepInStage : 0)) }
    }

    func train() throws {
        let total = state.step + remainingSteps
        if problemsPerStep < settings.problemsPerStep {
            Log.write(.warn, "--problems-per-step \(settings.problemsPerStep) > \(data.count) problems: using \(data.count)")
        }
        if resumedAt > 0 {
            let p = settings.phases[min(state.phase, settings.phases.count - 1)]
            SFTCommand.writeStderr("resuming \(last) at step \(state.step) (stage \(p.stage.rawValue), round \(p.round), step \(state.stepInStage) of the stage)\n")
        }
        while state.phase < settings.phases.count {
            guard state.stepInStage < settings.steps else {
                state.phase += 1
                state.stepInStage = 0
                continue
            }
            let phase = settings.phases[state.phase]
            // A view per step carries the step's stage and sampling seed; rollouts draw their random
            // streams from the optimiser step, so a resumed run samples what the uninterrupted run sampled.
            let score = try SCoReTrainer(resuming: trainer, config: settings.stepConfig(stage: phase.stage, step: state.step))
            score.emulatedWorkers = workers.size > 1 ? 1 : settings.shards
            if phase.stage == .two && state.stepInStage == 0 && settings.anchorToStageOne { try score.useCurrentPolicyAsReference() }
            var problems: [String] = [], references: [String] = []
            for i in 0..<problemsPerStep {
                let p = order.index(at: state.dataPosition + i)
                problems.append(data.problems[p])
                references.append(data.answers[p])
            }
            let stats = try score.step(problems: problems, references: references, reward: SelfCorrectionOptions.reward(settings.verifier))
            state.step += 1
            state.stepInStage += 1
            state.dataPosition += problemsPerStep
            window.append(stats.rewardPerTurn.last ?? 0)
            var fields = Self.fields(stats, phase: phase, state: state)
            fields.append(("workers", .int(Int64(workers.size))))
            var evaluated: SelfCorrectionMetrics? = nil
            if writes, let heldOut, state.step % settings.evalEvery == 0 {
                evaluated = try evaluate(score.policyModel, heldOut)
                fields += SelfCorrectionOptions.fields(evaluated!, prefix: "eval_")
            }
            fields.append(("elapsed", JSON.number(state.elapsed + BenchCommand.now() - started)))
            if writes {
                fputs(try JSON.object(fields).serialized(indent: false) + "\n", metrics)
                fflush(metrics)
                progress(stats, phase: phase, total: total)
            }
            if let m = evaluated {
                SFTCommand.writeStderr("\n  held-out @ step \(state.step): Acc@t1 \(fixed(100 * m.accuracyT1, 1))% Acc@t2 \(fixed(100 * m.accuracyT2, 1))% Δ \(fixed(100 * m.delta, 1))% Δi→c \(fixed(100 * m.incorrectToCorrect, 1))% Δc→i \(fixed(100 * m.correctToIncorrect, 1))%\n")
            }
            let finished = state.stepInStage == settings.steps && state.phase == settings.phases.count - 1
            if state.step % settings.saveEvery == 0 || finished { try checkpoint() }
        }
        try workers.barrier()  // rank 0's last checkpoint is written before any rank reports the end
        guard writes else { return }
        SFTCommand.writeStderr("\n")
        let bestText = state.bestReward.map { "\(best) (mean reward@t\(settings.score.attempts) \(fixed($0, 3)) in the window ending at step \(state.bestStep))" } ?? "none"
        print("trained \(state.step - resumedAt) steps (now at step \(state.step)); checkpoint \(last); best \(bestText); metrics \(metricsPath)")
    }

    /// OUT/best first (when this window beat every earlier one), then OUT/last
    /// with the state that records it.
    private func checkpoint() throws {
        guard writes else { window = []; return }
        if !window.isEmpty {
            let mean = window.reduce(0, +) / Double(window.count)
            if state.bestReward.map({ mean > $0 }) ?? true {
                try trainer.exportModel(to: best)
                state.bestReward = mean
                state.bestStep = state.step
            }
            window = []
        }
        var saved = state
        saved.elapsed += BenchCommand.now() - started
        try trainer.save(to: last, extraFiles: [(RunState.file, try saved.json(settings).serialized())])
    }

    private func evaluate(_ policy: Model, _ heldOut: ProblemSet) throws -> SelfCorrectionMetrics {
        let evaluator = SelfCorrectionEvaluator(model: policy, format: settings.score.format, maxNewTokens: settings.score.maxNewTokens,
                                                attempts: max(2, settings.score.attempts))
        return try SelfCorrectionOptions.evaluate(evaluator, heldOut, verifier: settings.verifier, batch: 16).0
    }

    static func fields(_ s: SCoReStepStats, phase: (stage: SCoReStage, round: Int), state: RunState) -> [(String, JSON)] {
        func number(_ x: Double) -> JSON { x.isFinite ? JSON.number(x) : .null }
        var out: [(String, JSON)] = [("step", .int(Int64(state.step))), ("stage", .int(Int64(phase.stage.rawValue))),
                                     ("round", .int(Int64(phase.round))), ("step_in_stage", .int(Int64(state.stepInStage)))]
        for (t, r) in s.rewardPerTurn.enumerated() { out.append(("reward_t\(t + 1)", number(r))) }
        for (t, kl) in s.klPerTurn.enumerated() { out.append(("kl_t\(t + 1)", number(kl))) }
        out.append(("answer_change_rate", number(s.answerChangeRate)))
        for (t, z) in s.zeroSignalFraction.enumerated() { out.append(("zero_signal_t\(t + 1)", number(z))) }
        out += [("loss", number(s.loss)), ("grad_norm", number(s.gradNorm)), ("lr", number(s.learningRate)),
                ("skipped", .bool(s.skippedNonFinite)), ("rollouts", .int(Int64(s.rollouts))),
                ("rollout_tokens", .int(Int64(s.generatedTokens))), ("rollout_seconds", number(s.rolloutSeconds)),
                ("reference_seconds", number(s.referenceSeconds)), ("update_seconds", number(s.updateSeconds)),
                ("allreduce_seconds", number(s.allreduceSeconds)),
                ("rollout_tokens_per_second", number(s.rolloutTokensPerSecond))]
        return out
    }

    private func progress(_ s: SCoReStepStats, phase: (stage: SCoReStage, round: Int), total: Int) {
        let width = 20
        let done = min(width, total > 0 ? state.step * width / total : width)
        let bar = String(repeating: "#", count: done) + String(repeating: "-", count: width - done)
        let perStep = (BenchCommand.now() - started) / Double(max(1, state.step - resumedAt))
        let stage = phase.stage == .one ? "I" : "II"
        let rounds = settings.phases.last!.round > 1 ? " r\(phase.round)" : ""
        SFTCommand.writeStderr("\r[\(bar)] \(state.step)/\(total) stage \(stage)\(rounds) | reward \(s.rewardPerTurn.map { fixed($0, 2) }.joined(separator: "→")) | KL \(s.klPerTurn.map { fixed($0, 4) }.joined(separator: "/")) | changed \(fixed(s.answerChangeRate, 2)) | \(Int(s.rolloutTokensPerSecond)) tok/s | ETA \(duration(perStep * Double(total - state.step)))   ")
    }
}
