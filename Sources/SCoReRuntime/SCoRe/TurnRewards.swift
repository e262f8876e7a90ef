/// Which SCoRe objective a step optimises (Kumar et al. 2024, §5).
public enum SCoReStage: Int32, Sendable {
    /// Stage I: reward only the last attempt; pin every earlier attempt to
    /// the reference with the strong KL β2 (the last one gets the weak β1).
    case one = 1
    /// Stage II: every attempt gets its own reward, shaped from attempt 2 on
    /// with the progress bonus α·(r(y_t) − r(y_{t−1})); weak KL β1 on all.
    case two = 2
}

/// The reward each attempt's tokens receive, and their advantages.
///
/// Credit never flows across turns: attempt t's tokens get turn t's reward
/// only. With binary rewards and α = 10, Stage II gives attempt 2
/// wrong→right 11, right→right 1, wrong→wrong 0, right→wrong −10.
public enum TurnRewards {
    /// Per-turn rewards of one rollout from the verifier's rewards r(y_1…y_N).
    /// A single attempt (single-turn RL) gets r(y_1) in either stage's
    /// Stage II form; Stage I needs at least two attempts.
    public static func shaped(_ r: [Float], stage: SCoReStage, alpha: Float) -> [Float] {
        guard !r.isEmpty else { return [] }
        switch stage {
        case .one:
            // Earlier attempts are not rewarded, only held near the reference.
            var out = [Float](repeating: 0, count: r.count)
            out[r.count - 1] = r[r.count - 1]
            return out
        case .two:
            return r.indices.map { t in t == 0 ? r[0] : r[t] + alpha * (r[t] - r[t - 1]) }
        }
    }

    /// The leave-one-out baseline (RLOO, Ahmadian et al. 2024) over the k
    /// samples of one problem: A_i = R_i − mean_{j≠i} R_j. With k = 1 there
    /// is no baseline to form, so it is rejected rather than silently
    /// degenerating into plain REINFORCE.
    public static func leaveOneOut(_ rewards: [Float]) throws -> [Float] {
        let k = rewards.count
        guard k >= 2 else {
            throw ScoreError.invalidArgument("the leave-one-out baseline needs at least 2 samples per problem, got \(k)")
        }
        let total = rewards.reduce(0, +)
        return rewards.map { $0 - (total - $0) / Float(k - 1) }
    }

    /// The KL coefficient of each attempt's tokens.
    public static func klCoefficients(attempts n: Int, stage: SCoReStage, beta1: Float, beta2: Float) -> [Float] {
        switch stage {
        case .one: return (0..<n).map { $0 == n - 1 ? beta1 : beta2 }
        case .two: return [Float](repeating: beta1, count: n)
        }
    }
}
