/// How the KL divergence KL(π ‖ π_ref) to the reference policy is estimated
/// at each target token y (l = log π(y), l_ref = log π_ref(y)):
///   exact: Σ_v π(v)·(log π(v) − log π_ref(v)) over the whole vocabulary
///   k1:    l − l_ref                     (unbiased, high variance, can be < 0)
///   k3:    e^(l_ref − l) − 1 − (l_ref − l)  (unbiased, ≥ 0; Schulman's k3)
/// The gradients are the exact derivatives of these expressions.
public enum KLEstimator: Int32, Sendable, CaseIterable {
    case none = 0, exact = 1, k1 = 2, k3 = 3
}

/// How per-token terms become one loss.
///   tokenMean:    Σ over all target tokens of the batch / number of target tokens
///   sequenceMean: mean over sequences (that have targets) of each sequence's token mean
///   sequenceSum:  mean over sequences (that have targets) of each sequence's token SUM —
///                 REINFORCE's Σ_t A·log π(y_t) per trajectory, and the sequence-level KL,
///                 with no length normalisation
public enum LossAggregation: Int32, Sendable {
    case tokenMean = 0, sequenceMean = 1, sequenceSum = 2
}

/// One training sequence. `mask`, `weights`, `klWeights` and
/// `referenceLogProbs` are aligned with `tokens`: mask[t] > 0 makes token t a
/// target, predicted from tokens[0 ..< t] (mask[0] is ignored: nothing
/// predicts the first token). The per-token loss is
/// weights[t]·(−log π(tokens[t])) + β_t·KL_t: weights 1 give supervised
/// fine-tuning, advantages give the policy gradient. β_t is klWeights[t] when
/// given (SCoRe's Stage I pins attempt 1 with a larger β than attempt 2),
/// else the objective's β.
public struct TrainingSequence: Sendable {
    public var tokens: [Int32]
    public var mask: [Float]
    public var weights: [Float]?
    public var klWeights: [Float]?
    /// log π_ref(tokens[t]) for k1/k3; computed with the reference weights when nil.
    public var referenceLogProbs: [Float]?

    public init(tokens: [Int32], mask: [Float], weights: [Float]? = nil, klWeights: [Float]? = nil,
                referenceLogProbs: [Float]? = nil) {
        self.tokens = tokens
        self.mask = mask
        self.weights = weights
        self.klWeights = klWeights
        self.referenceLogProbs = referenceLogProbs
    }
}

public struct Objective: Sendable {
    public var aggregation: LossAggregation
    public var klEstimator: KLEstimator
    /// β, the weight of the KL term.
    public var klCoefficient: Float

    public init(aggregation: LossAggregation = .tokenMean, klEstimator: KLEstimator = .none, klCoefficient: Float = 0) {
        self.aggregation = aggregation
        self.klEstimator = klEstimator
        self.klCoefficient = klCoefficient
    }

    /// Whether a batch has a KL term: an estimator, and a β somewhere.
    func usesKL(_ sequences: [TrainingSequence]) -> Bool {
        klEstimator != .none && (klCoefficient != 0 || sequences.contains { $0.klWeights != nil })
    }
}

/// The per-row view of a batch's objective: row r of the packed batch
/// predicts target[r] (−1: no target) with coefficient policy[r] on −log π
/// and kl[r] (β included) on the KL term; aggregation factors are folded in.
/// klAverage[r] is the aggregation factor alone, so Σ klAverage·KL_t is the
/// aggregated KL without β.
public struct RowTargets {
    public var target: [Int32]
    public var policy: [Float]
    public var kl: [Float]
    public var klAverage: [Float]
    public let usesKL: Bool
    public var referenceLogProbs: [Float]?
    /// Rows whose loss terms are not all zero, ascending.
    public var active: [Int]
    public var targetTokens: Int

    public init(_ sequences: [TrainingSequence], batch: PackedSequences, objective: Objective, vocabSize: Int) throws {
        let R = batch.rows
        target = Array(repeating: -1, count: R)
        policy = Array(repeating: 0, count: R)
        kl = Array(repeating: 0, count: R)
        klAverage = Array(repeating: 0, count: R)
        usesKL = objective.usesKL(sequences)
        let callerReference = usesKL && objective.klEstimator != .exact && sequences.allSatisfy { $0.referenceLogProbs != nil }
        referenceLogProbs = callerReference ? Array(repeating: 0, count: R) : nil
        active = []
        var counts: [Int] = []
        for (b, s) in sequences.enumerated() {
            let T = s.tokens.count
            guard s.mask.count == T else { throw ScoreError.invalidArgument("sequence \(b): \(s.mask.count) mask values for \(T) tokens") }
            if let w = s.weights, w.count != T { throw ScoreError.invalidArgument("sequence \(b): \(w.count) weights for \(T) tokens") }
            if let k = s.klWeights, k.count != T { throw ScoreError.invalidArgument("sequence \(b): \(k.count) KL weights for \(T) tokens") }
            if let r = s.referenceLogProbs, r.count != T { throw ScoreError.invalidArgument("sequence \(b): \(r.count) reference log-probs for \(T) tokens") }
            var n = 0
            for t in 1..<max(T, 1) {
                let m = s.mask[t], w = s.weights?[t] ?? 1
                guard m.isFinite, m >= 0 else { throw ScoreError.invalidArgument("sequence \(b): mask[\(t)] = \(m) (must be finite and ≥ 0)") }
                guard w.isFinite else { throw ScoreError.invalidArgument("sequence \(b): weight[\(t)] = \(w) is not finite") }
                if let k = s.klWeights?[t], !(k.isFinite && k >= 0) {
                    throw ScoreError.invalidArgument("sequence \(b): KL weight[\(t)] = \(k) (must be finite and ≥ 0)")
                }
                if m > 0 { n += 1 }
            }
            counts.append(n)
        }
        targetTokens = counts.reduce(0, +)
        guard targetTokens > 0 else { throw ScoreError.invalidArgument("the batch has no target tokens (every loss mask is 0)") }
        let nonEmpty = counts.filter { $0 > 0 }.count
        for (b, s) in sequences.enumerated() where counts[b] > 0 {
            let factor: Float
            switch objective.aggregation {
            case .tokenMean: factor = 1 / Float(targetTokens)
            case .sequenceMean: factor = 1 / (Float(counts[b]) * Float(nonEmpty))
            case .sequenceSum: factor = 1 / Float(nonEmpty)
            }
            let start = batch.starts[b]
            for t in 1..<s.tokens.count where s.mask[t] > 0 {
                let r = start + t - 1
                target[r] = s.tokens[t]
                policy[r] = s.mask[t] * (s.weights?[t] ?? 1) * factor
                if usesKL {
                    klAverage[r] = s.mask[t] * factor
                    kl[r] = klAverage[r] * (s.klWeights?[t] ?? objective.klCoefficient)
                }
                if callerReference {
                    let v = s.referenceLogProbs![t]
                    guard v.isFinite, v <= 0 else { throw ScoreError.invalidArgument("sequence \(b): reference log-prob[\(t)] = \(v) is not a log-probability") }
                    referenceLogProbs![r] = v
                }
                if policy[r] != 0 || kl[r] != 0 { active.append(r) }
            }
        }
    }
}
