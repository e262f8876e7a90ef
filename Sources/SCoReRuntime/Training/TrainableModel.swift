/// Which parameters a run trains.
public enum ParameterSet: Sendable, Equatable {
    /// Every parameter, in one contiguous F32 buffer; the loaded weights stay
    /// untouched and serve as the frozen reference policy.
    case full
    /// Low-rank adapters only; the base is frozen and, with the adapters
    /// switched off, is also the reference policy: no second model in memory.
    case lora(LoRAConfig)
}

/// A model being trained: trainable values and their gradients in two flat
/// buffers sharing one layout, the frozen base (and reference) weights, and
/// the decoder graph. `accumulate` runs forward + backward of one
/// micro-batch and adds its gradients; the optimiser lives in `Trainer`.
public final class TrainableModel: @unchecked Sendable {
    public let base: Model
    public var config: ModelConfig { base.config }
    public let parameterSet: ParameterSet
    /// The trainable tensors: HF names (full) or peft names (LoRA).
    public let layout: ParameterLayout
    public let values: FloatBuffer
    public let grads: FloatBuffer
    /// Recompute each layer's activations in the backward instead of keeping them.
    public var checkpointing = false

    let graph: DecoderGraph
    let weights: DecoderTensors      // what the forward reads (with LoRA: the base the adapters add to)
    let gradients: DecoderTensors    // where the backward writes (nil: frozen)
    /// The reference policy: the frozen initial weights, unless
    /// `freezeCurrentAsReference` replaced it with a snapshot.
    var reference: DecoderTensors
    /// The loaded weights in F32 (a BF16 checkpoint widened once): the
    /// training engine computes on F32 tensors only.
    let baseF32: Weights
    var referenceSnapshot: FloatBuffer?
    let lora: [[LoRAPair?]]?

    public init(model: Model, parameters: ParameterSet, seed: UInt64 = 0) throws {
        guard !model.weights.computesInBF16 else {
            throw ScoreError.invalidArgument("this model was loaded for BF16 compute; load it with compute f32 to train it")
        }
        base = model
        parameterSet = parameters
        let c = model.config
        graph = DecoderGraph(config: c)
        baseF32 = model.weights.widenedToF32()
        reference = DecoderTensors(weights: baseF32)
        switch parameters {
        case .full:
            layout = ParameterLayout.decoder(c)
            values = FloatBuffer(count: layout.count)
            grads = FloatBuffer(count: layout.count)
            weights = DecoderTensors(config: c, layout: layout, base: values.pointer)
            gradients = DecoderTensors(config: c, layout: layout, base: grads.pointer)
            for ((name, src, count), (_, dst, _)) in zip(reference.named(c), weights.named(c)) {
                guard let src, let dst else { throw ScoreError.internal("tensor \(name) has no storage") }
                dst.update(from: src, count: count)
            }
            lora = nil
        case .lora(let lc):
            try lc.validate()
            layout = lc.layout(c)
            values = FloatBuffer(count: layout.count)
            grads = FloatBuffer(count: layout.count)
            weights = reference
            gradients = DecoderTensors.frozen(like: reference)
            var rng = TrainingRNG(seed: seed)
            lc.initialise(c, layout: layout, values: values.pointer, rng: &rng)
            lora = lc.pairs(c, layout: layout, values: values.pointer, grads: grads.pointer)
        }
    }

    public func zeroGradients() { grads.pointer.initialize(repeating: 0, count: grads.count) }

    public func value(_ name: String) -> UnsafeMutableBufferPointer<Float>? {
        layout.slot(name).map { UnsafeMutableBufferPointer(start: values.pointer + $0.offset, count: $0.count) }
    }

    public func gradient(_ name: String) -> UnsafeMutableBufferPointer<Float>? {
        layout.slot(name).map { UnsafeMutableBufferPointer(start: grads.pointer + $0.offset, count: $0.count) }
    }

    /// The outcome of one micro-batch.
    public struct Evaluation: Sendable {
        /// The objective (policy/cross-entropy part + β·KL), before `scale`.
        public var loss: Double
        public var policyLoss: Double
        /// The aggregated KL estimate (without β); 0 when KL is off.
        public var kl: Double
        public var targetTokens: Int
        /// log π(tokens[t]) per sequence, aligned with the tokens (0 where mask is 0).
        public var logProbs: [[Float]]
        /// The per-token KL estimate KL_t, aligned with the tokens (0 where no KL term).
        public var klValues: [[Float]]
    }

    /// Forward and backward of one micro-batch: gradients of scale·loss are
    /// ADDED to `grads` (call zeroGradients() between optimiser steps).
    /// With `backward: false` only the loss is evaluated.
    @discardableResult
    public func accumulate(_ sequences: [TrainingSequence], objective: Objective, scale: Float = 1,
                           backward: Bool = true) throws -> Evaluation {
        guard !sequences.isEmpty else { throw ScoreError.invalidArgument("the batch is empty") }
        guard scale.isFinite else { throw ScoreError.invalidArgument("loss scale \(scale) is not finite") }
        guard objective.klCoefficient.isFinite, objective.klCoefficient >= 0 else {
            throw ScoreError.invalidArgument("KL coefficient \(objective.klCoefficient) must be finite and ≥ 0")
        }
        for (b, s) in sequences.enumerated() {
            do { try base.validate(tokens: s.tokens) } catch let e as ScoreError {
                throw ScoreError.invalidArgument("sequence \(b): \(e.message)")
            }
        }
        let c = config, H = c.hiddenSize, V = c.vocabSize
        let batch = PackedSequences(sequences.map(\.tokens))
        var targets = try RowTargets(sequences, batch: batch, objective: objective, vocabSize: V)
        let store = try activationStore(for: batch)

        // The reference policy's final hidden states, when the KL needs them.
        var referenceHidden: FloatBuffer? = nil
        if targets.usesKL && (objective.klEstimator == .exact || targets.referenceLogProbs == nil) {
            graph.forward(batch, weights: reference, lora: nil, store: store)
            let hidden = FloatBuffer(count: batch.rows * H, zeroed: false)
            hidden.pointer.update(from: store.hidden, count: batch.rows * H)
            referenceHidden = hidden
            if objective.klEstimator != .exact {
                var lref = [Float](repeating: 0, count: batch.rows)
                Model.targetLogProbs(hidden: hidden.pointer, head: WeightMatrix(f32: reference.lmHead!, rows: V, cols: H), hiddenSize: H, vocab: V,
                                        rows: targets.active, targets: targets.target, into: &lref)
                targets.referenceLogProbs = lref
            }
        }

        graph.forward(batch, weights: weights, lora: lora, store: store)
        var scaled = targets
        if scale != 1 {
            scaled.policy = targets.policy.map { $0 * scale }
            scaled.kl = targets.kl.map { $0 * scale }
            scaled.klAverage = targets.klAverage.map { $0 * scale }
        }
        let dHidden = FloatBuffer(count: batch.rows * H, zeroed: false)
        let head = LossHead.run(hidden: store.hidden, head: weights.lmHead!, rows: batch.rows, hiddenSize: H, vocab: V,
                                targets: scaled, objective: objective,
                                reference: referenceHidden.map { (UnsafePointer($0.pointer), UnsafePointer(reference.lmHead!)) },
                                dHidden: dHidden.pointer, dHead: backward ? gradients.lmHead : nil)
        if backward {
            graph.backward(batch, dHidden: dHidden.pointer, weights: weights, grads: gradients, lora: lora, store: store)
        }
        let inv = scale == 0 ? 0 : 1 / Double(scale)
        var logProbs: [[Float]] = [], klValues: [[Float]] = []
        for (b, s) in sequences.enumerated() {
            var lp = [Float](repeating: 0, count: s.tokens.count), kv = lp
            for t in 1..<max(s.tokens.count, 1) where s.mask[t] > 0 {
                lp[t] = head.logProbs[batch.starts[b] + t - 1]
                kv[t] = head.klValues[batch.starts[b] + t - 1]
            }
            logProbs.append(lp)
            klValues.append(kv)
        }
        return Evaluation(loss: head.loss * inv, policyLoss: head.policyLoss * inv, kl: head.klMean * inv,
                          targetTokens: targets.targetTokens, logProbs: logProbs, klValues: klValues)
    }

    /// log π_ref(tokens[t]) of every target token (mask[t] > 0) under the
    /// reference policy, aligned with the tokens (0 elsewhere): a forward
    /// pass only, so callers can time reference scoring on its own and hand
    /// the values to `accumulate` through `TrainingSequence.referenceLogProbs`.
    public func referenceLogProbs(_ sequences: [TrainingSequence]) throws -> [[Float]] {
        guard !sequences.isEmpty else { throw ScoreError.invalidArgument("the batch is empty") }
        for (b, s) in sequences.enumerated() {
            do { try base.validate(tokens: s.tokens) } catch let e as ScoreError {
                throw ScoreError.invalidArgument("sequence \(b): \(e.message)")
            }
            guard s.mask.count == s.tokens.count else {
                throw ScoreError.invalidArgument("sequence \(b): \(s.mask.count) mask values for \(s.tokens.count) tokens")
            }
        }
        let batch = PackedSequences(sequences.map(\.tokens))
        let store = try activationStore(for: batch)
        graph.forward(batch, weights: reference, lora: nil, store: store)
        var targets = [Int32](repeating: -1, count: batch.rows), rows: [Int] = []
        for (b, s) in sequences.enumerated() {
            for t in 1..<max(s.tokens.count, 1) where s.mask[t] > 0 {
                rows.append(batch.starts[b] + t - 1)
                targets[batch.starts[b] + t - 1] = s.tokens[t]
            }
        }
        var out = [Float](repeating: 0, count: batch.rows)
        Model.targetLogProbs(hidden: store.hidden, head: WeightMatrix(f32: reference.lmHead!, rows: config.vocabSize, cols: config.hiddenSize),
                             hiddenSize: config.hiddenSize,
                                vocab: config.vocabSize, rows: rows, targets: targets, into: &out)
        return sequences.enumerated().map { b, s in
            (0..<s.tokens.count).map { t in t > 0 && s.mask[t] > 0 ? out[batch.starts[b] + t - 1] : 0 }
        }
    }

    /// The last step's activation memory, reused while the batch shape stays
    /// the same (re-allocating and faulting in hundreds of MB each step costs time).
    private var cachedStore: (lengths: [Int], checkpointing: Bool, store: ActivationStore)?

    private func activationStore(for batch: PackedSequences) throws -> ActivationStore {
        if let c = cachedStore, c.lengths == batch.lengths, c.checkpointing == checkpointing { return c.store }
        cachedStore = nil  // free the old one before allocating the new one
        let store = try ActivationStore(config: config, batch: batch, loraRanks: loraRanks, checkpointing: checkpointing)
        cachedStore = (batch.lengths, checkpointing, store)
        return store
    }

    var loraRanks: [Int?] {
        guard case .lora(let lc) = parameterSet else { return Array(repeating: nil, count: 7) }
        return LoRATarget.allCases.map { lc.targets.contains($0) ? lc.rank : nil }
    }
}
