import CScoreABI
import SCoReRuntime

// score_rl_*: the SCoRe trainer behind a handle. Rollouts come back as the
// score_rollout of Rollout.swift, so its accessors read them and
// score_rl_update gets the Swift rollouts back from the same box.

final class RLTrainerBox {
    let trainer: SCoReTrainer
    init(_ trainer: SCoReTrainer) { self.trainer = trainer }
}

func unboxRLTrainer(_ handle: OpaquePointer?) throws -> SCoReTrainer {
    guard let handle else { throw ScoreError.invalidArgument("trainer is NULL") }
    return Unmanaged<RLTrainerBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue().trainer
}

/// The per-turn arrays of score_rl_stats and score_eval_result have this many entries.
let maxTurns = Int(SCORE_RL_MAX_TURNS)

/// A C reward callback as the core's reward function. A non-finite reward
/// is an error: a host signals a failed verifier that way, and evaluation
/// must not count NaN as a wrong answer.
func rewardFunction(_ fn: score_reward_fn, _ userData: UnsafeMutableRawPointer?) -> SCoReTrainer.RewardFunction {
    { problem, attempt, reference in
        let r = problem.withCString { p in attempt.withCString { a in reference.withCString { fn(p, a, $0, userData) } } }
        guard r.isFinite else {
            throw ScoreError.invalidArgument("the reward function returned \(r) for an attempt at problem \"\(problem.prefix(60))\"")
        }
        return r
    }
}

/// n NUL-terminated UTF-8 strings from a C array, each checked.
func cStrings(_ array: UnsafePointer<UnsafePointer<CChar>?>?, count n: Int, name: String) throws -> [String] {
    guard let array else { throw ScoreError.invalidArgument("\(name) is NULL") }
    guard n <= 1 << 20 else { throw ScoreError.invalidArgument("\(n) \(name) is absurdly many") }
    return try (0..<n).map { try String(argument: array[$0], name: "\(name)[\($0)]") }
}

/// The conversation format; NULL fields keep RevisionFormat's defaults.
func revisionFormat(instruction: UnsafePointer<CChar>?, taskPrompt: UnsafePointer<CChar>?,
                    systemPrompt: UnsafePointer<CChar>?) throws -> RevisionFormat {
    var format = RevisionFormat()
    if let t = instruction { format.instruction = try String(argument: t, name: "instruction") }
    if let t = taskPrompt { format.taskPrompt = try String(argument: t, name: "task_prompt") }
    if let t = systemPrompt { format.systemPrompt = try String(argument: t, name: "system_prompt") }
    return format
}

/// The struct_size of a caller's output struct (nil when the pointer is NULL),
/// checked before any work is done.
func outputSize<T>(_ pointer: UnsafeMutablePointer<T>?, name: String) throws -> Int? {
    guard let pointer else { return nil }
    let size = Int(UnsafeRawPointer(pointer).load(as: UInt32.self))
    guard size >= MemoryLayout<UInt32>.size, size <= 1 << 16 else {
        throw ScoreError.invalidArgument("\(name)->struct_size \(size) is invalid; set it to \(MemoryLayout<T>.size)")
    }
    return size
}

/// Writes values into a fixed C array (imported as a tuple of Doubles).
func fillTurns<Tuple>(_ tuple: inout Tuple, _ values: [Double]) {
    withUnsafeMutableBytes(of: &tuple) { raw in
        let slots = raw.bindMemory(to: Double.self)
        for (i, v) in values.prefix(slots.count).enumerated() { slots[i] = v }
    }
}

@c @implementation
public func score_rl_params_default() -> score_rl_params {
    let c = SCoReConfig()
    return score_rl_params(
        struct_size: UInt32(MemoryLayout<score_rl_params>.size), stage: SCoReStage.one.rawValue,
        attempts: Int32(c.attempts), samples_per_problem: Int32(c.samplesPerProblem),
        alpha: c.objective.alpha, beta1: c.objective.beta1, beta2: c.objective.beta2,
        update_rule: c.objective.update.rawValue, temperature: c.sampling.temperature,
        top_k: Int32(c.sampling.topK), top_p: c.sampling.topP, max_new_tokens: Int32(c.maxNewTokens),
        micro_batch: Int32(c.microBatchSize), instruction: nil, task_prompt: nil, system_prompt: nil,
        seed: c.sampling.seed, training: nil, progress: nil, progress_user_data: nil)
}

/// A C progress callback as the core's handler (nil stays nil).
func progressHandler(_ fn: score_progress_fn?, _ userData: UnsafeMutableRawPointer?) -> ProgressHandler? {
    guard let fn else { return nil }
    return { phase, done, total in phase.withCString { fn($0, Int64(done), Int64(total), userData) } }
}

@c @implementation
public func score_rl_training_params_default() -> score_trainer_params {
    let c = TrainerConfig.scoreDefaults()
    var p = score_trainer_params_default()
    p.learning_rate = c.optimizer.learningRate
    p.beta1 = c.optimizer.beta1
    p.beta2 = c.optimizer.beta2
    p.epsilon = c.optimizer.epsilon
    p.weight_decay = c.optimizer.weightDecay
    p.max_grad_norm = c.maxGradNorm
    p.kl_estimator = c.objective.klEstimator.rawValue
    p.kl_coefficient = c.objective.klCoefficient
    p.aggregation = c.objective.aggregation.rawValue
    p.seed = c.seed
    return p
}

/// The Swift configuration of C params; every enum is checked.
func scoreConfig(_ p: score_rl_params) throws -> SCoReConfig {
    guard let stage = SCoReStage(rawValue: p.stage) else { throw ScoreError.invalidArgument("stage \(p.stage) is not 1 or 2") }
    guard let rule = SCoReUpdateRule(rawValue: p.update_rule) else {
        throw ScoreError.invalidArgument("update_rule \(p.update_rule) is not SCORE_RL_REINFORCE or SCORE_RL_FILTERED_SFT")
    }
    guard p.attempts >= 1, p.attempts <= maxTurns else {
        throw ScoreError.invalidArgument("attempts \(p.attempts) must be in 1...\(maxTurns) (SCORE_RL_MAX_TURNS)")
    }
    var c = SCoReConfig()
    c.objective = SCoReObjective(stage: stage, alpha: p.alpha, beta1: p.beta1, beta2: p.beta2, update: rule)
    c.attempts = Int(p.attempts)
    c.samplesPerProblem = Int(p.samples_per_problem)
    c.sampling = SamplingParams(temperature: p.temperature, topK: Int(p.top_k), topP: p.top_p, seed: p.seed)
    c.maxNewTokens = Int(p.max_new_tokens)
    c.microBatchSize = Int(p.micro_batch)
    c.format = try revisionFormat(instruction: p.instruction, taskPrompt: p.task_prompt, systemPrompt: p.system_prompt)
    return c
}

@c @implementation
public func score_rl_trainer_new(_ model: OpaquePointer?, _ params: UnsafePointer<score_rl_params>?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_rl_trainer_new") {
        let m = try unbox(model)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        let p = try readParams(params, defaults: score_rl_params_default(), structSize: { $0.struct_size }, function: "score_rl_trainer_new")
        let config = try scoreConfig(p)
        let tp = try readParams(p.training, defaults: score_rl_training_params_default(), structSize: { $0.struct_size },
                                function: "score_rl_trainer_new")
        let training = try trainerConfig(tp)
        if tp.n_threads > 0 { try ThreadPool.configure(threads: Int(tp.n_threads)) }
        let trainer = try SCoReTrainer(model: m, config: config, training: training)
        trainer.progress = progressHandler(p.progress, p.progress_user_data)
        out.pointee = OpaquePointer(Unmanaged.passRetained(RLTrainerBox(trainer)).toOpaque())
    }
}

@c @implementation
public func score_rl_trainer_resume(_ model: OpaquePointer?, _ dir: UnsafePointer<CChar>?,
                                    _ params: UnsafePointer<score_rl_params>?,
                                    _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_rl_trainer_resume") {
        let m = try unbox(model)
        let path = try String(argument: dir, name: "dir")
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        let p = try readParams(params, defaults: score_rl_params_default(), structSize: { $0.struct_size }, function: "score_rl_trainer_resume")
        let trainer = try SCoReTrainer(resuming: try Trainer.resume(from: path, base: m), config: try scoreConfig(p))
        trainer.progress = progressHandler(p.progress, p.progress_user_data)
        out.pointee = OpaquePointer(Unmanaged.passRetained(RLTrainerBox(trainer)).toOpaque())
    }
}

@c @implementation
public func score_rl_trainer_free(_ trainer: OpaquePointer?) {
    guard let trainer else { return }
    Unmanaged<RLTrainerBox>.fromOpaque(UnsafeRawPointer(trainer)).release()
}

@c @implementation
public func score_rl_trainer_set_stage(_ trainer: OpaquePointer?, _ stage: Int32) -> score_status {
    boundary("score_rl_trainer_set_stage") {
        let t = try unboxRLTrainer(trainer)
        guard let s = SCoReStage(rawValue: stage) else { throw ScoreError.invalidArgument("stage \(stage) is not 1 or 2") }
        var config = t.config
        config.objective.stage = s
        try config.validate()
        t.config = config
    }
}

@c @implementation
public func score_rl_trainer_get_stage(_ trainer: OpaquePointer?, _ stage: UnsafeMutablePointer<Int32>?) -> score_status {
    boundary("score_rl_trainer_get_stage") {
        let t = try unboxRLTrainer(trainer)
        guard let stage else { throw ScoreError.invalidArgument("stage is NULL") }
        stage.pointee = t.config.objective.stage.rawValue
    }
}

@c @implementation
public func score_rl_trainer_use_current_as_reference(_ trainer: OpaquePointer?) -> score_status {
    boundary("score_rl_trainer_use_current_as_reference") {
        try unboxRLTrainer(trainer).useCurrentPolicyAsReference()
    }
}

@c @implementation
public func score_rl_rollout(_ trainer: OpaquePointer?, _ problems: UnsafePointer<UnsafePointer<CChar>?>?,
                             _ nProblems: Int, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_rl_rollout") {
        let t = try unboxRLTrainer(trainer)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        guard nProblems > 0 else { throw ScoreError.invalidArgument("n_problems is 0") }
        let texts = try cStrings(problems, count: nProblems, name: "problems")
        let rollouts = try t.rollout(problems: texts)
        out.pointee = OpaquePointer(Unmanaged.passRetained(RolloutBox(rollouts)).toOpaque())
    }
}

func writeStats(_ s: SCoReStepStats, to stats: UnsafeMutablePointer<score_rl_stats>?, size: Int?) {
    guard let stats, let size else { return }
    var v = score_rl_stats()
    v.struct_size = UInt32(min(size, MemoryLayout<score_rl_stats>.size))
    v.stage = s.stage.rawValue
    v.step = Int64(s.step)
    v.turns = Int32(min(s.rewardPerTurn.count, maxTurns))
    v.rollouts = Int32(clamping: s.rollouts)
    v.generated_tokens = Int64(s.generatedTokens)
    fillTurns(&v.reward_per_turn, s.rewardPerTurn)
    fillTurns(&v.kl_per_turn, s.klPerTurn)
    fillTurns(&v.zero_signal_fraction, s.zeroSignalFraction)
    v.answer_change_rate = s.answerChangeRate
    v.loss = s.loss
    v.grad_norm = s.gradNorm
    v.learning_rate = s.learningRate
    v.rollout_seconds = s.rolloutSeconds
    v.reference_seconds = s.referenceSeconds
    v.update_seconds = s.updateSeconds
    v.skipped_non_finite = s.skippedNonFinite
    copyPrefix(of: v, into: stats, size: size)
}

@c @implementation
public func score_rl_update(_ trainer: OpaquePointer?, _ rollout: OpaquePointer?, _ rewards: UnsafePointer<Float>?,
                            _ nRewards: Int, _ stats: UnsafeMutablePointer<score_rl_stats>?) -> score_status {
    boundary("score_rl_update") {
        let t = try unboxRLTrainer(trainer)
        let box = try unboxRollout(rollout)
        let size = try outputSize(stats, name: "stats")
        let n = t.config.attempts, episodes = box.rollouts.count
        guard nRewards == episodes * n else {
            throw ScoreError.invalidArgument("n_rewards \(nRewards) is not episodes × attempts = \(episodes) × \(n) = \(episodes * n)")
        }
        guard let rewards else { throw ScoreError.invalidArgument("rewards is NULL") }
        let perEpisode = try box.rollouts.enumerated().map { i, r -> [Float] in
            guard r.attempts.count <= n else {
                throw ScoreError.invalidArgument("episode \(i) has \(r.attempts.count) attempts; the trainer takes \(n)")
            }
            let row = Array(UnsafeBufferPointer(start: rewards + i * n, count: n))
            for a in r.attempts.count..<n where row[a] != 0 {
                throw ScoreError.invalidArgument("rewards[\(i * n + a)] = \(row[a]) is for attempt \(a + 1) of episode \(i), which it did not reach; pass 0")
            }
            return Array(row[..<r.attempts.count])
        }
        writeStats(try t.update(rollouts: box.rollouts, rewards: perEpisode), to: stats, size: size)
    }
}

@c @implementation
public func score_rl_step(_ trainer: OpaquePointer?, _ problems: UnsafePointer<UnsafePointer<CChar>?>?,
                          _ references: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int, _ rewardFn: score_reward_fn?,
                          _ userData: UnsafeMutableRawPointer?, _ stats: UnsafeMutablePointer<score_rl_stats>?) -> score_status {
    boundary("score_rl_step") {
        let t = try unboxRLTrainer(trainer)
        guard n > 0 else { throw ScoreError.invalidArgument("n is 0: no problems") }
        let texts = try cStrings(problems, count: n, name: "problems")
        let answers = try cStrings(references, count: n, name: "references")
        guard let rewardFn else { throw ScoreError.invalidArgument("reward_fn is NULL") }
        let size = try outputSize(stats, name: "stats")
        let s = try t.step(problems: texts, references: answers, reward: rewardFunction(rewardFn, userData))
        writeStats(s, to: stats, size: size)
    }
}

@c @implementation
public func score_rl_trainer_save(_ trainer: OpaquePointer?, _ dir: UnsafePointer<CChar>?) -> score_status {
    boundary("score_rl_trainer_save") {
        let t = try unboxRLTrainer(trainer)
        try t.trainer.save(to: try String(argument: dir, name: "dir"))
    }
}

@c @implementation
public func score_rl_trainer_export(_ trainer: OpaquePointer?, _ dir: UnsafePointer<CChar>?) -> score_status {
    boundary("score_rl_trainer_export") {
        let t = try unboxRLTrainer(trainer)
        try t.trainer.exportModel(to: try String(argument: dir, name: "dir"))
    }
}
