/// How Stage II's update uses the rewards.
public enum SCoReUpdateRule: Int32, Sendable {
    /// On-policy REINFORCE with the per-turn leave-one-out baseline (the paper).
    case reinforce = 0
    /// The paper's STaR ablation: supervised fine-tuning on the attempts the
    /// verifier accepted (weight 1 where r(y_t) = 1, else 0), KL as configured.
    case filteredSFT = 1
}

/// The SCoRe objective's settings (paper defaults) and the map from
/// rollouts and verifier rewards to weighted training sequences.
public struct SCoReObjective: Sendable {
    public var stage: SCoReStage = .two
    /// Reward-shaping bonus α on r(y_t) − r(y_{t−1}); 0 is the "without
    /// reward shaping" ablation.
    public var alpha: Float = 10
    /// Weak KL coefficient, on every attempt in Stage II and on the last in Stage I.
    public var beta1: Float = 0.01
    /// Strong KL coefficient on the earlier attempts in Stage I.
    public var beta2: Float = 0.1
    public var update: SCoReUpdateRule = .reinforce

    public init(stage: SCoReStage = .two, alpha: Float = 10, beta1: Float = 0.01, beta2: Float = 0.1,
                update: SCoReUpdateRule = .reinforce) {
        self.stage = stage
        self.alpha = alpha
        self.beta1 = beta1
        self.beta2 = beta2
        self.update = update
    }

    public func validate(attempts: Int) throws {
        for (name, v) in [("alpha", alpha), ("beta1", beta1), ("beta2", beta2)] {
            guard v.isFinite, v >= 0 else { throw ScoreError.invalidArgument("\(name) = \(v) must be finite and ≥ 0") }
        }
        guard attempts >= 1 else { throw ScoreError.invalidArgument("attempts must be ≥ 1, got \(attempts)") }
        if stage == .one && attempts < 2 {
            throw ScoreError.invalidArgument("Stage I rewards the last attempt and pins the earlier ones: it needs ≥ 2 attempts")
        }
    }

    /// One training sequence per rollout: the whole conversation, loss on the
    /// model's own tokens, each attempt's tokens weighted by that attempt's
    /// advantage and KL coefficient. `rewards[i][t]` is the verifier's
    /// r(y_t) for rollout i; an attempt a rollout did not reach (its context
    /// filled up) counts as reward 0. Rollouts are grouped by `problem` for
    /// the baseline.
    public func sequences(rollouts: [Rollout], rewards: [[Float]], attempts n: Int) throws -> [TrainingSequence] {
        try validate(attempts: n)
        guard rollouts.count == rewards.count else {
            throw ScoreError.invalidArgument("\(rewards.count) reward lists for \(rollouts.count) rollouts")
        }
        for (i, r) in rewards.enumerated() {
            guard r.count == rollouts[i].attempts.count, r.count <= n else {
                throw ScoreError.invalidArgument("rollout \(i): \(r.count) rewards for \(rollouts[i].attempts.count) attempts")
            }
            for v in r where !v.isFinite { throw ScoreError.invalidArgument("rollout \(i): reward \(v) is not finite") }
        }
        let turnRewards = rewards.map { r in TurnRewards.shaped(r + [Float](repeating: 0, count: n - r.count), stage: stage, alpha: alpha) }
        var advantages = turnRewards
        switch update {
        case .reinforce:
            var groups: [Int: [Int]] = [:]
            for (i, r) in rollouts.enumerated() { groups[r.problem, default: []].append(i) }
            for (_, members) in groups {
                for t in 0..<n {
                    let a = try TurnRewards.leaveOneOut(members.map { turnRewards[$0][t] })
                    for (j, i) in members.enumerated() { advantages[i][t] = a[j] }
                }
            }
        case .filteredSFT:
            for i in rollouts.indices {
                advantages[i] = (0..<n).map { t in t < rewards[i].count && rewards[i][t] >= 1 ? 1 : 0 }
            }
        }
        let kl = TurnRewards.klCoefficients(attempts: n, stage: stage, beta1: beta1, beta2: beta2)
        return rollouts.enumerated().map { i, r in
            let T = r.sequence.count
            var mask = [Float](repeating: 0, count: T), weights = mask, klWeights = mask
            for (t, range) in r.attemptRanges.enumerated() {
                for p in range {
                    mask[p] = 1
                    weights[p] = advantages[i][t]
                    klWeights[p] = kl[t]
                }
            }
            return TrainingSequence(tokens: r.sequence, mask: mask, weights: weights, klWeights: klWeights)
        }
    }
}
