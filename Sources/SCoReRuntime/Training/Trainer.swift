#if canImport(Glibc)
import Glibc
#endif

/// Everything that defines a training run besides the data.
public struct TrainerConfig: Sendable {
    public var parameters: ParameterSet = .full
    public var optimizer = AdamWConfig()
    public var schedule = LRSchedule()
    /// Global-norm clipping threshold; 0 turns clipping off.
    public var maxGradNorm: Float = 1
    /// Micro-batches whose gradients are averaged into one optimiser step.
    public var accumulationSteps = 1
    public var objective = Objective()
    public var checkpointing = false
    public var seed: UInt64 = 0

    public init() {}

    func validate() throws {
        try optimizer.validate()
        try schedule.validate()
        guard maxGradNorm.isFinite, maxGradNorm >= 0 else { throw ScoreError.invalidArgument("max grad norm \(maxGradNorm) must be finite and ≥ 0") }
        guard accumulationSteps >= 1, accumulationSteps <= 1 << 20 else {
            throw ScoreError.invalidArgument("accumulation steps \(accumulationSteps) must be ≥ 1")
        }
        guard objective.klCoefficient.isFinite, objective.klCoefficient >= 0 else {
            throw ScoreError.invalidArgument("KL coefficient \(objective.klCoefficient) must be finite and ≥ 0")
        }
    }
}

/// What one call of `Trainer.step` did.
public struct StepStats: Sendable {
    public var loss: Double = 0
    public var policyLoss: Double = 0
    public var kl: Double = 0
    /// Global gradient norm before clipping (of the completed optimiser step; else 0).
    public var gradNorm: Double = 0
    /// The learning rate of the optimiser step this micro-batch belongs to.
    public var learningRate: Double = 0
    public var tokens = 0
    public var targetTokens = 0
    public var seconds: Double = 0
    /// Of `seconds`, spent summing over the workers (waiting for the slowest included).
    public var reduceSeconds: Double = 0
    public var tokensPerSecond: Double { seconds > 0 ? Double(tokens) / seconds : 0 }
    /// An optimiser step was applied after this micro-batch.
    public var optimizerStepped = false
    /// The optimiser step was skipped because the loss or a gradient was NaN/∞.
    public var skippedNonFinite = false
    /// Optimiser steps completed so far.
    public var step = 0
    /// log π(tokens[t]) per sequence (0 where not a target).
    public var logProbs: [[Float]] = []
}

/// The training loop's state: the trainable model, AdamW moments, the step
/// counters and the RNG. `step` consumes one micro-batch (any mix of SFT and
/// RL sequences: masks and per-token weights say what counts) and applies
/// AdamW after every `accumulationSteps` micro-batches.
public final class Trainer: @unchecked Sendable {
    public let model: TrainableModel
    public let config: TrainerConfig
    public let m: FloatBuffer
    public let v: FloatBuffer
    /// Optimiser steps applied.
    public internal(set) var completedSteps = 0
    /// Micro-batches accumulated towards the next optimiser step.
    public internal(set) var pendingMicroBatches = 0
    /// Optimiser steps skipped for non-finite values.
    public internal(set) var skippedSteps = 0
    public internal(set) var rng: TrainingRNG
    /// Set when a micro-batch of the pending step had a non-finite loss.
    var pendingNonFinite = false
    /// The workers this trainer is one of, each with a share of every batch
    /// (`step(shards:)`); set before the first step.
    public var collective: Collective = SingleProcess.shared

    public init(model base: Model, config: TrainerConfig) throws {
        try config.validate()
        self.config = config
        model = try TrainableModel(model: base, parameters: config.parameters, seed: config.seed)
        model.checkpointing = config.checkpointing
        m = FloatBuffer(count: model.layout.count)
        v = FloatBuffer(count: model.layout.count)
        rng = TrainingRNG(seed: config.seed &+ 0x5EED)
        // Full fine-tuning without a KL term never reads the loaded weights
        // again (the trainable copy is the model now): don't keep them resident twice.
        if case .full = config.parameters, config.objective.klEstimator == .none {
            base.weights.releaseMappedPages()
        }
    }

    /// The learning rate of the next optimiser step.
    public var learningRate: Double {
        Double(config.optimizer.learningRate) * config.schedule.multiplier(step: completedSteps)
    }

    /// One micro-batch; AdamW runs after `accumulationSteps` of them.
    ///
    /// Data-parallel (`collective`), `batch` is this worker's share of the
    /// micro-batch, and `shards` > 1 makes one process split the micro-batch
    /// as that many workers would. Each share's loss is weighted by its part
    /// of the whole micro-batch's normaliser (target tokens for a token mean,
    /// sequences otherwise), so the objective is the unsplit one; gradients
    /// are summed per share, then in rank order.
    public func step(_ batch: [TrainingSequence], shards: Int = 1) throws -> StepStats {
        guard shards >= 1, shards == 1 || collective.size == 1 else {
            throw ScoreError.invalidArgument("shards \(shards): only a single process emulates workers")
        }
        guard shards == 1 || config.accumulationSteps == 1 else {
            throw ScoreError.invalidArgument("shards > 1 needs accumulation steps 1")
        }
        let start = Self.now()
        if pendingMicroBatches == 0 { model.zeroGradients() }
        let groups = shards == 1 ? [batch] : (0..<shards).map { Array(batch[WorkerShare.range(of: batch.count, rank: $0, size: shards)]) }
        let split = groups.count > 1 || collective.size > 1
        let weights = groups.map { Self.normaliserWeight($0, config.objective.aggregation) }
        var total = weights.reduce(0, +)
        if collective.size > 1 { total = try collective.sum([total])[0] }
        guard total > 0 else { throw ScoreError.invalidArgument("the batch has no target tokens (every loss mask is 0)") }
        let n = model.layout.count
        let sum = groups.count > 1 ? FloatBuffer(count: n) : nil
        var stats = StepStats()
        for (group, weight) in zip(groups, weights) {
            if sum != nil { model.zeroGradients() }
            if weight > 0 {
                let share = split ? weight / total : 1
                let eval = try model.accumulate(group, objective: config.objective, scale: Float(share) / Float(config.accumulationSteps))
                stats.loss += eval.loss * share
                stats.policyLoss += eval.policyLoss * share
                stats.kl += eval.kl * share
                stats.targetTokens += eval.targetTokens
                stats.logProbs += eval.logProbs
                if !eval.loss.isFinite { pendingNonFinite = true }
            } else {
                stats.logProbs += group.map { [Float](repeating: 0, count: $0.tokens.count) }
            }
            stats.tokens += group.reduce(0) { $0 + $1.tokens.count }
            if let sum { for i in 0..<n { sum.pointer[i] += model.grads.pointer[i] } }
        }
        if let sum { model.grads.pointer.update(from: sum.pointer, count: n) }
        stats.learningRate = learningRate
        pendingMicroBatches += 1
        if pendingMicroBatches == config.accumulationSteps {
            try reduceAcrossWorkers(&stats)
            applyOptimizer(&stats)
            try checkWorkersAgree()
        }
        stats.step = completedSteps
        stats.seconds = Self.now() - start
        return stats
    }

    /// What a micro-batch's loss is normalised by: target tokens for a token
    /// mean, sequences with a target otherwise.
    static func normaliserWeight(_ batch: [TrainingSequence], _ aggregation: LossAggregation) -> Double {
        let targets = batch.map { s in s.mask.indices.dropFirst().filter { s.mask[$0] > 0 }.count }
        switch aggregation {
        case .tokenMean: return Double(targets.reduce(0, +))
        case .sequenceMean, .sequenceSum: return Double(targets.filter { $0 > 0 }.count)
        }
    }

    /// One optimiser step over a batch split into micro-batches (to bound
    /// activation memory): each micro-batch's loss is weighted by its share
    /// of the sequences, so a per-sequence aggregation over the whole batch
    /// is exact. Independent of `accumulationSteps`; nothing may be pending.
    /// `progress` hears of each micro-batch (phase "update") and may stop the
    /// step before the optimiser runs: the weights stay as they were.
    public func step(microBatches: [[TrainingSequence]],
                     progress: ProgressHandler? = nil) throws -> (stats: StepStats, klValues: [[Float]]) {
        try step(shards: [microBatches], progress: progress)
    }

    /// One optimiser step over a batch given as shards of micro-batches: the
    /// gradient of each shard is the sum over its micro-batches, and the
    /// shards' gradients are added in order, then summed with the other
    /// workers' (`collective`, in rank order). A single process given the N
    /// shards N workers would hold takes the same step bit for bit. Each
    /// micro-batch's loss is weighted by its share of all sequences, on all
    /// workers together.
    public func step(shards: [[[TrainingSequence]]],
                     progress: ProgressHandler? = nil) throws -> (stats: StepStats, klValues: [[Float]]) {
        guard pendingMicroBatches == 0 else {
            throw ScoreError.invalidArgument("\(pendingMicroBatches) micro-batches are pending an optimiser step")
        }
        let groups = shards.map { $0.filter { !$0.isEmpty } }
        let parts = groups.flatMap { $0 }
        let local = parts.reduce(0) { $0 + $1.count }
        let total = collective.size > 1 ? Int(try collective.sum([Double(local)])[0]) : local
        guard total > 0 else { throw ScoreError.invalidArgument("the batch is empty") }
        let start = Self.now()
        let n = model.layout.count
        let sum = groups.count > 1 ? FloatBuffer(count: n) : nil
        var stats = StepStats()
        var klValues: [[Float]] = []
        var targetCount = 0, done = 0
        for group in groups {
            model.zeroGradients()
            // Loss terms are summed per shard, then shards in order, as the workers' are.
            var shardLoss = 0.0, shardPolicy = 0.0, shardKL = 0.0
            defer {
                stats.loss += shardLoss
                stats.policyLoss += shardPolicy
                stats.kl += shardKL
            }
            for part in group {
                let share = Float(part.count) / Float(total)
                let eval: TrainableModel.Evaluation
                do {
                    try Progress.report(progress, "update", done, parts.count)
                    eval = try model.accumulate(part, objective: config.objective, scale: share)
                } catch {
                    model.zeroGradients()
                    pendingNonFinite = false
                    throw error
                }
                done += 1
                shardLoss += eval.loss * Double(share)
                shardPolicy += eval.policyLoss * Double(share)
                shardKL += eval.kl * Double(share)
                targetCount += eval.targetTokens
                stats.tokens += part.reduce(0) { $0 + $1.tokens.count }
                stats.logProbs += eval.logProbs
                klValues += eval.klValues
                if !eval.loss.isFinite { pendingNonFinite = true }
            }
            if let sum { for i in 0..<n { sum.pointer[i] += model.grads.pointer[i] } }
        }
        if let sum { model.grads.pointer.update(from: sum.pointer, count: n) }
        stats.targetTokens = targetCount
        try reduceAcrossWorkers(&stats)
        stats.learningRate = learningRate
        applyOptimizer(&stats)
        try checkWorkersAgree()
        stats.step = completedSteps
        stats.seconds = Self.now() - start
        return (stats, klValues)
    }

    /// With SCORE_CHECK_WORKERS set (a debug mode; the MPI tests use it):
    /// after every step, each worker hashes its weights and the workers
    /// compare, so a worker that drifted stops the run at once.
    private func checkWorkersAgree() throws {
        guard collective.size > 1, checkWorkers else { return }
        var hash: UInt32 = 2_166_136_261
        let bytes = UnsafeRawBufferPointer(start: model.values.pointer, count: model.values.count * MemoryLayout<Float>.size)
        for b in bytes { hash = (hash ^ UInt32(b)) &* 16_777_619 }
        // Every worker adds its hash: equal hashes sum to size × hash exactly (doubles hold 2^32 · size).
        let total = try collective.sum([Double(hash)])[0]
        guard total == Double(hash) * Double(collective.size) else {
            throw ScoreError.internal("worker \(collective.rank): the workers' weights differ after step \(completedSteps) (hash \(hash))")
        }
    }

    /// Compare the workers' weights after every step (SCORE_CHECK_WORKERS sets it).
    public var checkWorkers = getenv("SCORE_CHECK_WORKERS") != nil

    /// Sums the gradients, the loss terms and token counts, and whether any
    /// worker saw a non-finite loss, over the workers: every worker then
    /// clips and steps identically.
    private func reduceAcrossWorkers(_ stats: inout StepStats) throws {
        guard collective.size > 1 else { return }
        let start = Self.now()
        defer { stats.reduceSeconds = Self.now() - start }
        try collective.sum(UnsafeMutableBufferPointer(start: model.grads.pointer, count: model.layout.count))
        let totals = try collective.sum([stats.loss, stats.policyLoss, stats.kl, Double(stats.tokens),
                                         Double(stats.targetTokens), pendingNonFinite ? 1 : 0])
        stats.loss = totals[0]
        stats.policyLoss = totals[1]
        stats.kl = totals[2]
        stats.tokens = Int(totals[3])
        stats.targetTokens = Int(totals[4])
        pendingNonFinite = totals[5] > 0
    }

    private func applyOptimizer(_ stats: inout StepStats) {
        let n = model.layout.count
        pendingMicroBatches = 0
        let norm = GradientClipping.norm(model.grads.pointer, count: n)
        stats.gradNorm = norm
        if pendingNonFinite || !norm.isFinite {
            // Never let NaN/∞ reach the weights or the moments: drop this step.
            pendingNonFinite = false
            skippedSteps += 1
            stats.skippedNonFinite = true
            model.zeroGradients()
            Log.write(.warn, "training step \(completedSteps + 1): non-finite loss or gradient (norm \(norm)); step skipped")
            return
        }
        if config.maxGradNorm > 0 { GradientClipping.clip(model.grads.pointer, count: n, maxNorm: config.maxGradNorm) }
        completedSteps += 1
        AdamW.step(values: model.values.pointer, grads: model.grads.pointer, m: m.pointer, v: v.pointer, count: n,
                   config: config.optimizer, learningRate: stats.learningRate, step: completedSteps)
        stats.optimizerStepped = true
    }

    /// Seconds on the monotonic clock.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
