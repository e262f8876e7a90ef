#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

enum SFTCommand {
    static let help = """
    usage: score-cli sft DIR --data FILE.jsonl|FILE.csv --out OUT [options]

    Supervised fine-tuning of the model in DIR; the checkpoint (a Hugging Face
    model directory, or a peft adapter with --lora-rank) is saved atomically
    into OUT, with the optimiser state so a run can be resumed.

    data (see docs in Training/SFTData.swift):
      JSONL rows {"input_ids": [...], "labels_mask": [...]}, {"prompt", "completion"},
      or {"messages": [...]} (chat template); CSV with category,question,
      original_answer,correct_answer (SCoRe warm start: loss on the revised answer).
      Rows without target tokens are skipped with a warning.

    options:
      --lr X               peak learning rate (default 1e-5)
      --epochs N           passes over the data (default 1)
      --batch N            sequences per micro-batch (default 4)
      --accumulation N     micro-batches per optimiser step (default 1)
      --schedule S         constant | linear | cosine (default cosine)
      --warmup N           warm-up optimiser steps (default 0)
      --weight-decay X     AdamW decoupled weight decay (default 0)
      --max-grad-norm X    global-norm clipping, 0 = off (default 1)
      --kl-coef B          weight of KL(pi || pi_ref) to the starting model (default 0)
      --kl E               exact | k1 | k3 (default k3)
      --lora-rank R        train a LoRA adapter instead of every weight
      --lora-alpha A       (default 2·R)
      --lora-targets LIST  comma-separated, e.g. q_proj,v_proj (default all seven)
      --max-length N       truncate rows to N tokens (default 1024)
      --checkpointing      recompute activations in the backward (less memory)
      --metrics FILE       JSONL log, one line per optimiser step (default OUT.metrics.jsonl)
      --seed N             data order and LoRA initialisation (default 0)
      --save-every N       also save the checkpoint every N optimiser steps (default: only at the end)
      --max-steps N        stop after N optimiser steps (the schedule still spans all epochs)
      --shards N           split each micro-batch in N, as N MPI workers do: one process then
                           reproduces `mpirun -np N score-cli sft ...` bit for bit (default 1)
      --resume             continue the run saved in OUT: same data order, schedule and
                           optimiser state (taken from the checkpoint), metrics log continued
      --threads N
    """

    static let valueOptions: Set<String> = ["data", "out", "lr", "epochs", "batch", "accumulation", "schedule", "warmup",
                                            "weight-decay", "max-grad-norm", "kl-coef", "kl", "lora-rank", "lora-alpha",
                                            "lora-targets", "max-length", "metrics", "seed", "threads", "save-every", "max-steps", "shards"]
    static let flagOptions: Set<String> = ["help", "checkpointing", "resume"]

    static func float(_ args: Arguments, _ name: String, _ def: Float) throws -> Float {
        guard let text = args.options[name] else { return def }
        guard let v = Float(text), v.isFinite else { throw UsageError("--\(name) must be a finite number, got '\(text)'") }
        return v
    }

    static func run(_ args: Arguments) throws {
        guard args.positional.count == 1 else { throw UsageError("sft takes exactly one model directory") }
        guard let dataPath = args.options["data"] else { throw UsageError("sft needs --data FILE") }
        guard let out = args.options["out"] else { throw UsageError("sft needs --out DIR") }
        let model = try Model.load(directory: args.positional[0], options: modelLoadOptions)

        var config = TrainerConfig()
        config.optimizer = AdamWConfig(learningRate: try float(args, "lr", 1e-5), weightDecay: try float(args, "weight-decay", 0))
        config.maxGradNorm = try float(args, "max-grad-norm", 1)
        config.accumulationSteps = try args.int("accumulation", default: 1, range: 1...65536)
        config.checkpointing = args.flags.contains("checkpointing")
        config.seed = UInt64(try args.int("seed", default: 0, range: 0...Int.max))
        let beta = try float(args, "kl-coef", 0)
        let klNames: [String: KLEstimator] = ["exact": .exact, "k1": .k1, "k3": .k3]
        guard let estimator = klNames[args.options["kl"] ?? "k3"] else { throw UsageError("--kl must be exact, k1 or k3") }
        config.objective = Objective(klEstimator: beta > 0 ? estimator : .none, klCoefficient: beta)
        if let rankText = args.options["lora-rank"] {
            guard let rank = Int(rankText), rank > 0 else { throw UsageError("--lora-rank must be a positive integer") }
            let targets = try args.options["lora-targets"].map { try LoRAConfig.targets(named: $0.split(separator: ",").map(String.init)) }
                ?? LoRATarget.allCases
            config.parameters = .lora(LoRAConfig(rank: rank, alpha: try float(args, "lora-alpha", Float(2 * rank)), targets: targets))
        } else if args.options["lora-alpha"] != nil || args.options["lora-targets"] != nil {
            throw UsageError("--lora-alpha and --lora-targets need --lora-rank")
        }

        let text = model.tokenizer.map { tok in
            SFTDataset.TextTools(tokenizer: tok, template: try? ChatTemplate.load(directory: args.positional[0]),
                                 eos: tok.eosTokenIds.first ?? model.config.eosTokenIds.first.map(Int32.init))
        }
        let maxLength = try args.int("max-length", default: 1024, range: 2...model.contextLength)
        let data = try SFTDataset.load(path: dataPath, text: text, vocabSize: model.config.vocabSize, maxLength: maxLength)
        for (line, why) in data.skipped { Log.write(.warn, "\(dataPath):\(line): skipped: \(why)") }

        let batch = try args.int("batch", default: 4, range: 1...4096)
        let epochs = try args.int("epochs", default: 1, range: 1...10000)
        let microPerEpoch = (data.examples.count + batch - 1) / batch
        let totalSteps = max(1, epochs * microPerEpoch / config.accumulationSteps)
        let scheduleNames: [String: LRSchedule.Kind] = ["constant": .constant, "linear": .linear, "cosine": .cosine]
        guard let kind = scheduleNames[args.options["schedule"] ?? "cosine"] else { throw UsageError("--schedule must be constant, linear or cosine") }
        config.schedule = LRSchedule(kind: kind, warmupSteps: try args.int("warmup", default: 0, range: 0...totalSteps), totalSteps: totalSteps)

        let resume = args.flags.contains("resume")
        let saveEvery = try args.int("save-every", default: 0, range: 0...Int(Int32.max))
        let maxSteps = try args.int("max-steps", default: Int(Int32.max), range: 1...Int(Int32.max))
        let shards = try args.int("shards", default: 1, range: 1...65536)
        // Under mpirun each rank trains on its share of every micro-batch; rank 0 alone writes.
        let workers = try MPIWorkers.fromEnvironment()
        let writes = workers.rank == 0
        let trainer: Trainer
        if resume {
            guard Files.exists(Files.join(out, "trainer_state.json")) else {
                throw ScoreError.invalidArgument("--resume: \(out) holds no checkpoint to continue")
            }
            trainer = try Trainer.resume(from: out, base: model)
            guard trainer.config.accumulationSteps == config.accumulationSteps, trainer.config.seed == config.seed else {
                throw ScoreError.invalidArgument("--resume: \(out) was trained with --accumulation \(trainer.config.accumulationSteps) --seed \(trainer.config.seed); pass the same")
            }
        } else {
            trainer = try Trainer(model: model, config: config)
            try trainer.checkTarget(out)  // fail before training, not after
        }
        trainer.collective = workers
        try workers.barrier()  // every rank has read the checkpoint before rank 0 rewrites anything
        let metricsPath = args.options["metrics"] ?? (out.hasSuffix("/") ? String(out.dropLast()) : out) + ".metrics.jsonl"
        let metrics = writes ? try MetricsLog.open(metricsPath, resumingAt: resume ? trainer.completedSteps + trainer.skippedSteps : nil) : nil
        defer { if let metrics { fclose(metrics) } }
        // Micro-batches the checkpoint already consumed, replayed in the same order and skipped.
        var skip = (trainer.completedSteps + trainer.skippedSteps) * trainer.config.accumulationSteps

        var rng = TrainingRNG(seed: config.seed)
        var order = Array(data.examples.indices)
        var losses: [Double] = [], kls: [Double] = [], tokens = 0, seconds = 0.0
        let started = now()
        training: for _ in 0..<epochs {
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, Int(rng.nextUniform() * Double(i + 1)))
            }
            for start in stride(from: 0, to: order.count, by: batch) {
                if skip > 0 { skip -= 1; continue }
                if trainer.completedSteps + trainer.skippedSteps >= maxSteps { break training }
                let micro = order[start..<min(start + batch, order.count)].map { data.examples[$0] }
                let s = workers.size > 1 ? try trainer.step(Array(micro[workers.share(of: micro.count)]))
                                         : try trainer.step(micro, shards: shards)
                losses.append(s.loss)
                kls.append(s.kl)
                tokens += s.tokens
                seconds += s.seconds
                guard s.optimizerStepped || s.skippedNonFinite else { continue }
                let mean = losses.reduce(0, +) / Double(losses.count), kl = kls.reduce(0, +) / Double(kls.count)
                let line = try JSON.object([
                    ("step", jsonInt(trainer.completedSteps)), ("loss", JSON.number(mean)), ("kl", JSON.number(kl)),
                    ("grad_norm", JSON.number(s.gradNorm)), ("lr", JSON.number(s.learningRate)), ("tokens", jsonInt(tokens)),
                    ("tokens_per_second", JSON.number(seconds > 0 ? Double(tokens) / seconds : 0)),
                    ("skipped", .bool(s.skippedNonFinite)), ("workers", jsonInt(workers.size)), ("elapsed", JSON.number(now() - started)),
                ]).serializedLine() + "\n"
                if let metrics {
                    fputs(line, metrics)
                    fflush(metrics)
                    progress(step: trainer.completedSteps + trainer.skippedSteps, of: totalSteps, loss: mean, lr: s.learningRate,
                             speed: seconds > 0 ? Double(tokens) / seconds : 0)
                }
                losses = []; kls = []; tokens = 0; seconds = 0
                if writes && saveEvery > 0 && trainer.completedSteps % saveEvery == 0 && s.optimizerStepped { try trainer.save(to: out) }
            }
        }
        try workers.barrier()
        guard writes else { return }
        writeStderr("\n")
        try trainer.save(to: out)
        print("trained \(trainer.completedSteps) steps (\(trainer.skippedSteps) skipped) on \(data.examples.count) rows (\(data.skipped.count) skipped); saved \(out); metrics \(metricsPath)")
    }

    static func progress(step: Int, of total: Int, loss: Double, lr: Double, speed: Double) {
        let width = 30
        let done = min(width, total > 0 ? step * width / total : width)
        let bar = String(repeating: "#", count: done) + String(repeating: "-", count: width - done)
        let lossText = String((loss * 10000).rounded() / 10000)
        writeStderr("\r[\(bar)] step \(step)/\(total) loss \(lossText) lr \(lr) \(Int(speed)) tok/s   ")
    }

    static func writeStderr(_ text: String) {
        writeAll(2, text)
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
