import CScoreABI
import SCoReRuntime

// score_trainer_*: the training engine behind a handle.

final class TrainerBox {
    let trainer: Trainer
    init(_ trainer: Trainer) { self.trainer = trainer }
}

func unboxTrainer(_ handle: OpaquePointer?) throws -> Trainer {
    guard let handle else { throw ScoreError.invalidArgument("trainer is NULL") }
    return Unmanaged<TrainerBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue().trainer
}

@c @implementation
public func score_trainer_params_default() -> score_trainer_params {
    score_trainer_params(
        struct_size: UInt32(MemoryLayout<score_trainer_params>.size),
        parameter_set: Int32(SCORE_PARAMS_FULL), lora_rank: 8, lora_alpha: 16,
        lora_targets: UInt32(SCORE_LORA_Q | SCORE_LORA_V),
        learning_rate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weight_decay: 0.01,
        schedule: Int32(SCORE_SCHEDULE_CONSTANT), warmup_steps: 0, total_steps: 0,
        max_grad_norm: 1, accumulation_steps: 1,
        kl_estimator: Int32(SCORE_KL_NONE), kl_coefficient: 0, aggregation: Int32(SCORE_AGGREGATE_TOKEN_MEAN),
        activation_checkpointing: false, n_threads: 0, seed: 0)
}

/// The Swift configuration of C params; every enum and bit set is checked.
func trainerConfig(_ p: score_trainer_params) throws -> TrainerConfig {
    var c = TrainerConfig()
    switch Int(p.parameter_set) {
    case Int(SCORE_PARAMS_FULL): c.parameters = .full
    case Int(SCORE_PARAMS_LORA):
        guard p.lora_targets & ~UInt32(SCORE_LORA_ALL) == 0 else {
            throw ScoreError.invalidArgument("lora_targets 0x\(String(p.lora_targets, radix: 16)) has bits that name no module (known: SCORE_LORA_ALL = 0x7f)")
        }
        let targets = LoRATarget.allCases.enumerated().filter { p.lora_targets & (1 << UInt32($0.offset)) != 0 }.map(\.element)
        c.parameters = .lora(LoRAConfig(rank: Int(p.lora_rank), alpha: p.lora_alpha, targets: targets))
    default: throw ScoreError.invalidArgument("parameter_set \(p.parameter_set) is not SCORE_PARAMS_FULL or SCORE_PARAMS_LORA")
    }
    c.optimizer = AdamWConfig(learningRate: p.learning_rate, beta1: p.beta1, beta2: p.beta2, epsilon: p.epsilon, weightDecay: p.weight_decay)
    guard let kind = LRSchedule.Kind(rawValue: p.schedule) else { throw ScoreError.invalidArgument("schedule \(p.schedule) is not a SCORE_SCHEDULE_* value") }
    c.schedule = LRSchedule(kind: kind, warmupSteps: Int(p.warmup_steps), totalSteps: Int(p.total_steps))
    c.maxGradNorm = p.max_grad_norm
    c.accumulationSteps = Int(p.accumulation_steps)
    guard let estimator = KLEstimator(rawValue: p.kl_estimator) else { throw ScoreError.invalidArgument("kl_estimator \(p.kl_estimator) is not a SCORE_KL_* value") }
    guard let aggregation = LossAggregation(rawValue: p.aggregation) else { throw ScoreError.invalidArgument("aggregation \(p.aggregation) is not a SCORE_AGGREGATE_* value") }
    c.objective = Objective(aggregation: aggregation, klEstimator: estimator, klCoefficient: p.kl_coefficient)
    c.checkpointing = p.activation_checkpointing
    c.seed = p.seed
    guard p.n_threads >= 0 else { throw ScoreError.invalidArgument("n_threads \(p.n_threads) is negative") }
    if p.n_threads > 0 { try ThreadPool.validate(threads: Int(p.n_threads)) }
    return c
}

@c @implementation
public func score_trainer_new(_ model: OpaquePointer?, _ params: UnsafePointer<score_trainer_params>?,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_trainer_new") {
        let m = try unbox(model)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        let p = try readParams(params, defaults: score_trainer_params_default(), structSize: { $0.struct_size }, function: "score_trainer_new")
        let config = try trainerConfig(p)
        if p.n_threads > 0 { try ThreadPool.configure(threads: Int(p.n_threads)) }  // OpenBLAS and our kernels
        let trainer = try Trainer(model: m, config: config)
        out.pointee = OpaquePointer(Unmanaged.passRetained(TrainerBox(trainer)).toOpaque())
    }
}

@c @implementation
public func score_trainer_resume(_ model: OpaquePointer?, _ dir: UnsafePointer<CChar>?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_trainer_resume") {
        let m = try unbox(model)
        let path = try String(argument: dir, name: "dir")
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        let trainer = try Trainer.resume(from: path, base: m)
        out.pointee = OpaquePointer(Unmanaged.passRetained(TrainerBox(trainer)).toOpaque())
    }
}

@c @implementation
public func score_trainer_free(_ trainer: OpaquePointer?) {
    guard let trainer else { return }
    Unmanaged<TrainerBox>.fromOpaque(UnsafeRawPointer(trainer)).release()
}

@c @implementation
public func score_trainer_step(_ trainer: OpaquePointer?, _ tokens: UnsafePointer<UnsafePointer<Int32>?>?,
                               _ lengths: UnsafePointer<Int>?, _ masks: UnsafePointer<UnsafePointer<Float>?>?,
                               _ weights: UnsafePointer<UnsafePointer<Float>?>?,
                               _ refLogprobs: UnsafePointer<UnsafePointer<Float>?>?, _ n: Int,
                               _ stats: UnsafeMutablePointer<score_train_stats>?) -> score_status {
    boundary("score_trainer_step") {
        let t = try unboxTrainer(trainer)
        guard n > 0 else { throw ScoreError.invalidArgument("n is 0: the batch is empty") }
        guard n <= 1 << 20 else { throw ScoreError.invalidArgument("n \(n) is absurdly large") }
        guard let tokens, let lengths, let masks else { throw ScoreError.invalidArgument("tokens, lengths and masks must not be NULL") }
        if let stats {
            let size = Int(UnsafeRawPointer(stats).load(as: UInt32.self))
            guard size >= 4, size <= 1 << 16 else { throw ScoreError.invalidArgument("stats struct_size \(size) is invalid") }
        }
        var batch: [TrainingSequence] = []
        for i in 0..<n {
            let count = lengths[i]
            guard count >= 1, count <= 1 << 24 else { throw ScoreError.invalidArgument("lengths[\(i)] = \(count) (must be ≥ 1)") }
            guard let ids = tokens[i] else { throw ScoreError.invalidArgument("tokens[\(i)] is NULL") }
            guard let mask = masks[i] else { throw ScoreError.invalidArgument("masks[\(i)] is NULL") }
            batch.append(TrainingSequence(
                tokens: Array(UnsafeBufferPointer(start: ids, count: count)),
                mask: Array(UnsafeBufferPointer(start: mask, count: count)),
                weights: weights?[i].map { Array(UnsafeBufferPointer(start: $0, count: count)) },
                referenceLogProbs: refLogprobs?[i].map { Array(UnsafeBufferPointer(start: $0, count: count)) }))
        }
        let s = try t.step(batch)
        if let stats {
            let size = Int(UnsafeRawPointer(stats).load(as: UInt32.self))
            let value = score_train_stats(
                struct_size: UInt32(min(size, MemoryLayout<score_train_stats>.size)),
                loss: s.loss, policy_loss: s.policyLoss, kl: s.kl, grad_norm: s.gradNorm, learning_rate: s.learningRate,
                seconds: s.seconds, tokens_per_second: s.tokensPerSecond, step: Int64(s.step),
                tokens: Int32(clamping: s.tokens), target_tokens: Int32(clamping: s.targetTokens),
                optimizer_stepped: s.optimizerStepped, skipped_non_finite: s.skippedNonFinite)
            copyPrefix(of: value, into: stats, size: size)
        }
    }
}

@c @implementation
public func score_trainer_load_adapter(_ trainer: OpaquePointer?, _ dir: UnsafePointer<CChar>?) -> score_status {
    boundary("score_trainer_load_adapter") {
        let t = try unboxTrainer(trainer)
        try t.model.loadAdapter(try String(argument: dir, name: "dir"))
    }
}

@c @implementation
public func score_trainer_save(_ trainer: OpaquePointer?, _ dir: UnsafePointer<CChar>?) -> score_status {
    boundary("score_trainer_save") {
        let t = try unboxTrainer(trainer)
        try t.save(to: try String(argument: dir, name: "dir"))
    }
}

@c @implementation
public func score_trainer_export(_ trainer: OpaquePointer?, _ dir: UnsafePointer<CChar>?) -> score_status {
    boundary("score_trainer_export") {
        let t = try unboxTrainer(trainer)
        try t.exportModel(to: try String(argument: dir, name: "dir"))
    }
}
