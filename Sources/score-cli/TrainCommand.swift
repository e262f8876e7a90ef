#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

/// score-cli train: SCoRe (Kumar et al. 2024) on a problems file — Stage I,
/// Stage II, or rounds of both — with a per-step metrics log, periodic
/// held-out evaluation, atomic resumable checkpoints and the best-reward export.
/// The recipe itself is the core's `SCoReRecipe`; this parses the options,
/// writes the metrics log and prints.
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
      --stage1-steps N     Stage I's own step count (default: --steps)
      --stage2-steps N     Stage II's own step count (default: --steps); the demo runs 50 + 150
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
        "out", "stage", "steps", "stage1-steps", "stage2-steps", "rounds", "problems-per-step", "samples", "alpha", "beta1", "beta2", "lr", "kl", "update",
        "reference", "lora-rank", "lora-alpha", "micro-batch", "shards", "eval", "eval-every", "save-every", "metrics",
    ])
    static let flagOptions: Set<String> = ["help", "resume"]

    static func run(_ args: Arguments) throws {
        guard args.positional.count == 1 else { throw UsageError("train takes exactly one model directory") }
        guard let dataPath = args.options["data"] else { throw UsageError("train needs --data problems.jsonl") }
        guard let out = args.options["out"] else { throw UsageError("train needs --out OUT") }
        let (settings, verifier) = try Self.settings(args)
        let data = try ProblemSet.load(dataPath)
        let heldOut = try args.options["eval"].map(ProblemSet.load)
        let metricsPath = args.options["metrics"] ?? (out.hasSuffix("/") ? String(out.dropLast()) : out) + ".metrics.jsonl"
        let started = BenchCommand.now()
        let workers = try MPIWorkers.fromEnvironment()
        let base = try Model.load(directory: args.positional[0], options: modelLoadOptions)
        let resume = args.flags.contains("resume")
        let recipe = try SCoReRecipe(model: base, outputDirectory: out, problems: data, heldOut: heldOut,
                                     reward: SelfCorrectionOptions.reward(verifier), settings: settings, resume: resume,
                                     collective: workers)
        // Rank 0 alone writes the metrics and the progress.
        let metrics = workers.rank == 0 ? try MetricsLog.open(metricsPath, resumingAt: resume ? recipe.state.step : nil) : nil
        defer { if let metrics { fclose(metrics) } }
        if recipe.problemsPerStep < settings.problemsPerStep {
            Log.write(.warn, "--problems-per-step \(settings.problemsPerStep) > \(data.count) problems: using \(data.count)")
        }
        if recipe.resumedAtStep > 0 {
            let p = recipe.currentPhase
            SFTCommand.writeStderr("resuming \(recipe.lastCheckpoint) at step \(recipe.state.step) (stage \(p.stage.rawValue), round \(p.round), step \(recipe.state.stepInStage) of the stage)\n")
        }
        guard let metrics else { return try recipe.run() }
        let rounds = recipe.phases.last!.round, resumedAt = recipe.resumedAtStep
        recipe.onStep = { report in
            var fields = Self.fields(report)
            fields.append(("workers", .int(Int64(workers.size))))
            if let m = report.heldOut { fields += SelfCorrectionOptions.fields(m, prefix: "eval_") }
            fields.append(("elapsed", JSON.number(report.elapsed)))
            fputs(try JSON.object(fields).serialized(indent: false) + "\n", metrics)
            fflush(metrics)
            let perStep = (BenchCommand.now() - started) / Double(max(1, report.step - resumedAt))
            Self.progress(report, rounds: rounds, perStep: perStep)
            if let m = report.heldOut {
                SFTCommand.writeStderr("\n  held-out @ step \(report.step): Acc@t1 \(fixed(100 * m.accuracyT1, 1))% Acc@t2 \(fixed(100 * m.accuracyT2, 1))% Δ \(fixed(100 * m.delta, 1))% Δi→c \(fixed(100 * m.incorrectToCorrect, 1))% Δc→i \(fixed(100 * m.correctToIncorrect, 1))%\n")
            }
        }
        try recipe.run()
        SFTCommand.writeStderr("\n")
        let state = recipe.state
        let bestText = state.bestReward.map { "\(recipe.bestModel) (mean reward@t\(settings.score.attempts) \(fixed($0, 3)) in the window ending at step \(state.bestStep))" } ?? "none"
        print("trained \(state.step - recipe.resumedAtStep) steps (now at step \(state.step)); checkpoint \(recipe.lastCheckpoint); best \(bestText); metrics \(metricsPath)")
    }

    /// The recipe's settings from the options (usage errors first, then the
    /// core's checks), and the verifier that gives the rewards.
    static func settings(_ args: Arguments) throws -> (SCoReRecipeSettings, Verifier) {
        var s = SCoReRecipeSettings()
        let stageName = args.options["stage"] ?? ""
        switch stageName {
        case "": throw UsageError("train needs --stage 1, 2 or both")
        default:
            guard let stages = SCoReRecipeStages(rawValue: stageName) else {
                throw UsageError("--stage must be 1, 2 or both, got '\(stageName)'")
            }
            s.stages = stages
        }
        s.rounds = try args.int("rounds", default: 1, range: 1...100_000)
        if args.options["rounds"] != nil && s.stages != .both { throw UsageError("--rounds repeats Stage I + Stage II: it needs --stage both") }
        s.stepsPerStage = try args.int("steps", default: 100, range: 1...10_000_000)
        if args.options["stage1-steps"] != nil { s.stageOneSteps = try args.int("stage1-steps", default: 0, range: 1...10_000_000) }
        if args.options["stage2-steps"] != nil { s.stageTwoSteps = try args.int("stage2-steps", default: 0, range: 1...10_000_000) }
        s.problemsPerStep = try args.int("problems-per-step", default: 16, range: 1...1_000_000)
        s.saveEvery = try args.int("save-every", default: 25, range: 1...10_000_000)
        if args.options["eval-every"] != nil && args.options["eval"] == nil { throw UsageError("--eval-every needs --eval FILE.jsonl") }
        if args.options["eval"] != nil { s.evalEvery = try args.int("eval-every", default: s.saveEvery, range: 1...10_000_000) }
        let reference = args.options["reference"] ?? "base"
        guard reference == "base" || reference == "stage1" else { throw UsageError("--reference must be base or stage1, got '\(reference)'") }
        s.anchorStageTwoToStageOne = reference == "stage1"
        if s.anchorStageTwoToStageOne && s.stages != .both { throw UsageError("--reference stage1 anchors Stage II to Stage I's policy: it needs --stage both") }
        let verifier = try SelfCorrectionOptions.verifier(args)
        s.useVerifier(verifier)
        s.seed = UInt64(try args.int("seed", default: 0, range: 0...Int(Int64.max)))

        s.score.attempts = try args.int("attempts", default: 2, range: 1...64)
        s.score.samplesPerProblem = try args.int("samples", default: 4, range: 1...4096)
        s.score.maxNewTokens = try SelfCorrectionOptions.maxNewTokens(args)
        s.score.microBatchSize = try args.int("micro-batch", default: 8, range: 1...65536)
        s.shards = try args.int("shards", default: 1, range: 1...65536)
        s.score.format = try SelfCorrectionOptions.format(args)
        let temperature = try SFTCommand.float(args, "temperature", 1)
        guard temperature > 0 else { throw UsageError("--temperature must be > 0 (rollouts are samples), got \(temperature)") }
        s.score.sampling = SamplingParams(temperature: temperature)
        let updates: [String: SCoReUpdateRule] = ["reinforce": .reinforce, "star": .filteredSFT]
        let updateName = args.options["update"] ?? "reinforce"
        guard let update = updates[updateName] else { throw UsageError("--update must be reinforce or star, got '\(updateName)'") }
        s.score.objective = SCoReObjective(alpha: try SFTCommand.float(args, "alpha", 10), beta1: try SFTCommand.float(args, "beta1", 0.01),
                                           beta2: try SFTCommand.float(args, "beta2", 0.1), update: update)

        let lr = try SFTCommand.float(args, "lr", 5e-6)
        guard lr > 0 else { throw UsageError("--lr must be > 0, got \(lr)") }
        s.training.optimizer.learningRate = lr
        let estimators: [String: KLEstimator] = ["exact": .exact, "k1": .k1, "k3": .k3]
        let klName = args.options["kl"] ?? "k3"
        guard let kl = estimators[klName] else { throw UsageError("--kl must be exact, k1 or k3, got '\(klName)'") }
        s.training.objective.klEstimator = kl
        if args.options["lora-rank"] != nil {
            let rank = try args.int("lora-rank", default: 8, range: 1...65536)
            let alpha = try SFTCommand.float(args, "lora-alpha", Float(2 * rank))
            s.training.parameters = .lora(LoRAConfig(rank: rank, alpha: alpha, targets: LoRATarget.allCases))
        } else if args.options["lora-alpha"] != nil {
            throw UsageError("--lora-alpha needs --lora-rank")
        }
        // Checkpoint messages name the options ("other settings (--samples)").
        s.settingName = { key in key == "problems" ? "--data (another number of problems)" : "--" + String(key.map { $0 == "_" ? "-" : $0 }) }
        try s.validate()
        return (s, verifier)
    }

    /// The metrics line's fields before "workers", the held-out metrics and "elapsed".
    static func fields(_ r: SCoReRecipe.StepReport) -> [(String, JSON)] {
        let s = r.stats
        func number(_ x: Double) -> JSON { x.isFinite ? JSON.number(x) : .null }
        var out: [(String, JSON)] = [("step", .int(Int64(r.step))), ("stage", .int(Int64(r.stage.rawValue))),
                                     ("round", .int(Int64(r.round))), ("step_in_stage", .int(Int64(r.stepInStage)))]
        for (t, x) in s.rewardPerTurn.enumerated() { out.append(("reward_t\(t + 1)", number(x))) }
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

    /// The progress line (rewritten in place with \r).
    static func progress(_ r: SCoReRecipe.StepReport, rounds: Int, perStep: Double) {
        let s = r.stats, total = r.totalSteps
        let width = 20
        let done = min(width, total > 0 ? r.step * width / total : width)
        let bar = String(repeating: "#", count: done) + String(repeating: "-", count: width - done)
        let stage = r.stage == .one ? "I" : "II"
        let roundText = rounds > 1 ? " r\(r.round)" : ""
        SFTCommand.writeStderr("\r[\(bar)] \(r.step)/\(total) stage \(stage)\(roundText) | reward \(s.rewardPerTurn.map { fixed($0, 2) }.joined(separator: "→")) | KL \(s.klPerTurn.map { fixed($0, 4) }.joined(separator: "/")) | changed \(fixed(s.answerChangeRate, 2)) | \(Int(s.rolloutTokensPerSecond)) tok/s | ETA \(duration(perStep * Double(total - r.step)))   ")
    }
}
