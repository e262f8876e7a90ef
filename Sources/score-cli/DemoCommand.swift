#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime
import SCoReDemo

enum DemoCommand {
    static let help = """
    usage: score-cli demo [options]

    The main job, with no downloads: builds a small Llama model and a
    character tokenizer from nothing, warm-starts it by SFT on two-digit
    additions answered by a student who often forgets the carry, then trains
    SCoRe Stage I and Stage II and (for comparison) single-turn RL with the
    same budget, and prints Acc@t1, Acc@t2, Δ, Δi→c, Δc→i for each model on a
    held-out split.

    options:
      --seed N            seed for weights, data and sampling (default 0)
      --work DIR          where models are written (default demo-run)
      --json              print the results as one JSON object on stdout
      --task T            carry (default) | pairs: the synthetic task (see README)
      --sft-target X      stop the warm start once greedy Acc@t1 reaches X (default 0.5)
      --sft-steps N       warm-start steps, cosine learning-rate decay (default 1500)
      --sft-attempts N    warm-start attempts: one still below the target after 800 steps starts
                          again from new random weights (default 3)
      --slip X            carry task: how often the student's first answer forgets the carry (default 0.9)
      --sft-lr X          warm-start learning rate (default 1e-3)
      --sft-batch N       warm-start conversations per step (default 64)
      --stage1-steps N    SCoRe Stage I steps (default 50)
      --stage2-steps N    SCoRe Stage II steps (default 150)
      --problems N        problems per RL step (default 32)
      --samples K         samples per problem (default 4)
      --rl-lr X           RL learning rate (default 1e-4)
      --no-ablation       skip the single-turn RL ablation
      --ablations LIST    also train the paper's other ablations, same budget (about 2 min each):
                          all, or a comma-separated list of no-stage1, no-shaping, star
      --reuse-sft         reuse WORK/sft from an earlier run instead of training it again
      --unchecked         do not stop on a failed premise (warm start outside its band, a
                          non-finite loss, a collapsed model); for plumbing tests on tiny
                          budgets: the output then says its premises were not checked
      --threads N
    """
    static let valueOptions: Set<String> = ["seed", "work", "task", "sft-target", "ablations", "sft-steps", "sft-attempts", "slip", "sft-lr", "sft-batch", "stage1-steps", "stage2-steps", "problems", "samples",
                                            "rl-lr", "threads"]
    static let flagOptions: Set<String> = ["help", "json", "no-ablation", "reuse-sft", "unchecked"]

    static func run(_ args: Arguments) throws {
        guard args.positional.isEmpty else { throw UsageError("demo takes no positional arguments") }
        var s = DemoSettings()
        s.seed = UInt64(try args.int("seed", default: 0, range: 0...Int(Int32.max)))
        s.workDirectory = args.options["work"] ?? "demo-run"
        s.sftSteps = try args.int("sft-steps", default: s.sftSteps, range: 1...1_000_000)
        s.sftBatch = try args.int("sft-batch", default: s.sftBatch, range: 1...100_000)
        s.sftAttempts = try args.int("sft-attempts", default: s.sftAttempts, range: 1...100)
        if let t = args.options["slip"] {
            guard let v = Double(t), v >= 0, v < 1 else { throw UsageError("--slip must be in [0, 1), got '\(t)'") }
            s.carry.slipRate = v
        }
        if let lr = args.options["sft-lr"] {
            guard let v = Float(lr), v.isFinite, v > 0 else { throw UsageError("--sft-lr must be a positive number, got '\(lr)'") }
            s.sftLearningRate = v
        }
        if let t = args.options["task"] {
            guard let kind = DemoTaskKind(rawValue: t) else { throw UsageError("--task must be pairs or carry, got '\(t)'") }
            s.task = kind
        }
        if let t = args.options["sft-target"] {
            guard let v = Double(t), v > 0, v <= 1 else { throw UsageError("--sft-target must be in (0, 1], got '\(t)'") }
            s.sftTargetAccuracy = v
        }
        s.stageOneSteps = try args.int("stage1-steps", default: s.stageOneSteps, range: 1...1_000_000)
        s.stageTwoSteps = try args.int("stage2-steps", default: s.stageTwoSteps, range: 1...1_000_000)
        s.problemsPerStep = try args.int("problems", default: s.problemsPerStep, range: 1...100_000)
        s.samplesPerProblem = try args.int("samples", default: s.samplesPerProblem, range: 2...4096)
        if let lr = args.options["rl-lr"] {
            guard let v = Float(lr), v.isFinite, v > 0 else { throw UsageError("--rl-lr must be a positive number, got '\(lr)'") }
            s.rlLearningRate = v
        }
        s.singleTurnAblation = !args.flags.contains("no-ablation")
        s.reuseWarmStart = args.flags.contains("reuse-sft")
        s.checkPremises = !args.flags.contains("unchecked")
        if let list = args.options["ablations"] {
            s.ablations = try list == "all" ? DemoAblation.allCases : list.split(separator: ",").map { name in
                guard let a = DemoAblation(rawValue: String(name)) else {
                    throw UsageError("--ablations: unknown ablation '\(name)' (all, no-stage1, no-shaping, star)")
                }
                return a
            }
        }
        let json = args.flags.contains("json")
        let started = BenchCommand.now()
        // RL steps of the whole run (SCoRe, single-turn, ablations), for the ETA.
        let rlTotal = (s.stageOneSteps + s.stageTwoSteps) * (s.singleTurnAblation ? 2 : 1)
            + s.ablations.map { $0 == .withoutStageOne ? s.stageOneSteps + s.stageTwoSteps : s.stageTwoSteps }.reduce(0, +)
        var rlDone = 0, rlSeconds = 0.0, sftStarted = 0.0
        let result = try DemoRun(settings: s).run { event in
            switch event {
            case .phase(let text): SFTCommand.writeStderr("\n== \(text)\n")
            case .sft(let step, let total, let loss, let accuracy):
                if step <= 10 || sftStarted == 0 { sftStarted = BenchCommand.now() - 0.001 }
                // An upper bound: the attempt stops at the first check that reaches the target.
                let perStep = (BenchCommand.now() - sftStarted) / Double(max(1, step - 10))
                let eta = step > 10 ? Int((perStep * Double(total - step)).rounded()) : 0
                if let accuracy {
                    SFTCommand.writeStderr("\r  step \(step)/\(total) loss \(fmt(loss, 4)) Acc@t1 \(pct(accuracy))%\n")
                } else {
                    SFTCommand.writeStderr("\r  step \(step)/\(total) loss \(fmt(loss, 4)) | warm start ETA ≤ \(eta / 60)m\(eta % 60)s   ")
                }
            case .rl(let phase, let step, let total, let st):
                let r = st.rewardPerTurn.map { fmt($0, 2) }.joined(separator: "/")
                let kl = st.klPerTurn.map { fmt($0, 3) }.joined(separator: "/")
                rlDone += 1
                rlSeconds += st.rolloutSeconds + st.referenceSeconds + st.updateSeconds
                let eta = Int((rlSeconds / Double(rlDone) * Double(max(0, rlTotal - rlDone))).rounded())
                SFTCommand.writeStderr("\r  \(phase) step \(step)/\(total) reward \(r) KL \(kl) changed \(fmt(st.answerChangeRate, 2)) flat \(st.zeroSignalFraction.map { fmt($0, 2) }.joined(separator: "/")) \(Int(st.rolloutTokensPerSecond)) tok/s | RL ETA \(eta / 60)m\(eta % 60)s   ")
            case .evaluated(let name, let m):
                SFTCommand.writeStderr("\n  \(name): Acc@t1 \(pct(m.accuracyT1)) Acc@t2 \(pct(m.accuracyT2)) Δ \(pct(m.delta)) i→c \(pct(m.incorrectToCorrect)) c→i \(pct(m.correctToIncorrect))\n")
            }
        }
        let total = BenchCommand.now() - started
        SFTCommand.writeStderr("\n")
        var rows: [(String, SelfCorrectionMetrics)] = [("base (SFT)", result.base), ("SCoRe Stage I", result.stageOne), ("SCoRe Stage II", result.stageTwo)]
        if let single = result.singleTurn { rows.append(("single-turn RL", single)) }
        rows += result.ablations.map { ($0.0.title, $0.1) }
        if json {
            let models = JSON.object(rows.map { name, m in
                (name, JSON.object([("acc_t1", JSON.number(m.accuracyT1)), ("acc_t2", JSON.number(m.accuracyT2)),
                                    ("delta", JSON.number(m.delta)), ("delta_i_to_c", JSON.number(m.incorrectToCorrect)),
                                    ("delta_c_to_i", JSON.number(m.correctToIncorrect)), ("answer_changed", JSON.number(m.answerChanged)),
                                    ("edit_distance_ratio", JSON.number(m.editDistanceRatio))]))
            })
            let phases = JSON.object(result.seconds.map { ($0.0, JSON.number($0.1)) } + [("total", JSON.number(total))])
            try printJSON([("seed", jsonInt(s.seed)), ("premises_checked", .bool(s.checkPremises)), ("problems", jsonInt(result.base.problems)), ("models", models),
                           ("seconds", phases),
                           ("rl_step_seconds", JSON.object([("rollout", JSON.number(result.rolloutSeconds)),
                                                            ("reference", JSON.number(result.referenceSeconds)),
                                                            ("update", JSON.number(result.updateSeconds))])),
                           ("rollout_tokens_per_second", JSON.number(result.rolloutTokensPerSecond))])
        } else {
            print("held-out problems: \(result.base.problems), seed \(s.seed), \(Int(total)) s" + (s.checkPremises ? "" : " (--unchecked: premises not checked; these numbers may mean nothing)"))
            print("| model | Acc@t1 | Acc@t2 | Δ(t1,t2) | Δi→c | Δc→i | changed |")
            print("|---|---|---|---|---|---|---|")
            for (name, m) in rows {
                print("| \(name) | \(pct(m.accuracyT1)) | \(pct(m.accuracyT2)) | \(pct(m.delta)) | \(pct(m.incorrectToCorrect)) | \(pct(m.correctToIncorrect)) | \(pct(m.answerChanged)) |")
            }
            print("RL step: rollout \(fmt(result.rolloutSeconds, 3)) s, reference \(fmt(result.referenceSeconds, 3)) s, update \(fmt(result.updateSeconds, 3)) s; rollouts \(Int(result.rolloutTokensPerSecond)) tok/s")
        }
    }

    static func fmt(_ x: Double, _ digits: Int) -> String {
        let scale = Double([1, 10, 100, 1000, 10000][min(digits, 4)])
        return String((x * scale).rounded() / scale)
    }

    static func pct(_ x: Double) -> String { fmt(100 * x, 1) }
}
