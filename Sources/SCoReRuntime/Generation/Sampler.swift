#if canImport(Glibc)
import Glibc
#endif

/// How the next token is chosen. Defaults follow transformers' `generate`.
public struct SamplingParams: Sendable, Equatable {
    /// 0 means greedy (argmax); otherwise logits are divided by it, and it
    /// must be at least `minimumTemperature` (1e-5): a smaller one (1e-40, a
    /// subnormal) scales finite logits to infinity, which used to give token
    /// 0 and NaN log-probs. It is rejected, not rounded to greedy, so the
    /// reported log-probs always mean softmax(logits / temperature).
    public var temperature: Float = 1
    /// Keep the k most likely tokens (0 = off).
    public var topK: Int = 0
    /// Keep the smallest set whose probability reaches p (1 = off).
    public var topP: Float = 1
    /// Drop tokens less likely than minP × the top probability (0 = off).
    public var minP: Float = 0
    /// CTRL-style penalty on tokens already in the sequence (1 = off); in
    /// `repetitionPenaltyRange` (0.01...100): 1e-45 used to turn a positive
    /// logit into infinity and every log-prob into NaN.
    public var repetitionPenalty: Float = 1
    public var seed: UInt64 = 0

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0,
                repetitionPenalty: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
    }

    public static let greedy = SamplingParams(temperature: 0)
    /// The smallest non-zero temperature accepted (vLLM's sampling epsilon).
    public static let minimumTemperature: Float = 1e-5
    public static let repetitionPenaltyRange: ClosedRange<Float> = 0.01...100

    public func validate() throws {
        guard temperature.isFinite, temperature >= 0 else { throw ScoreError.invalidArgument("temperature \(temperature) must be >= 0") }
        guard temperature == 0 || temperature >= Self.minimumTemperature else {
            throw ScoreError.invalidArgument("temperature \(temperature) is too small: use 0 for greedy decoding or at least \(Self.minimumTemperature)")
        }
        guard topK >= 0 else { throw ScoreError.invalidArgument("top_k \(topK) must be >= 0") }
        guard topP > 0, topP <= 1 else { throw ScoreError.invalidArgument("top_p \(topP) must be in (0, 1]") }
        guard minP >= 0, minP <= 1 else { throw ScoreError.invalidArgument("min_p \(minP) must be in [0, 1]") }
        guard repetitionPenalty.isFinite, Self.repetitionPenaltyRange.contains(repetitionPenalty) else {
            throw ScoreError.invalidArgument("repetition_penalty \(repetitionPenalty) must be in \(Self.repetitionPenaltyRange.lowerBound)...\(Self.repetitionPenaltyRange.upperBound) (1 = off)")
        }
    }
}

/// A counter-based generator: the n-th draw of stream s under seed k is a
/// pure function of (k, s, n). Each sequence gets its own stream, so results
/// do not depend on how sequences are batched together.
public struct RandomStream: Sendable {
    public let key: UInt64
    public private(set) var counter: UInt64 = 0

    public init(seed: UInt64, stream: UInt64) {
        key = RandomStream.mix(seed ^ RandomStream.mix(stream &+ 0x632B_E59B_D9B4_E019))
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double {
        counter &+= 1
        return Double(RandomStream.mix(key &+ counter &* 0xD1B5_4A32_D192_ED03) >> 11) * 0x1p-53
    }
}

/// One sampling decision: the token and its log-probability under the
/// temperature-scaled model distribution (before top-k/top-p/min-p and the
/// repetition penalty), which is what policy-gradient RL needs (as in TRL).
public struct SampledToken: Sendable, Equatable {
    public let token: Int32
    public let logProb: Float
}

public enum Sampler {
    /// Picks the next token from `logits` [vocab] (clobbered: use them once).
    /// `history` is the sequence so far, for the repetition penalty.
    public static func sample(logits: UnsafeMutablePointer<Float>, vocab: Int, params p: SamplingParams,
                              history: UnsafeBufferPointer<Int32>, rng: inout RandomStream) -> SampledToken {
        // The log-prob reported is under softmax(logits / T) of the raw model.
        let t = p.temperature > 0 ? p.temperature : 1
        // Scaled or penalised logits stay finite (an infinity would make
        // exp(x - max) NaN for every token): a finite logit that overflows
        // is clamped to the largest finite value of its sign.
        if t != 1 { for i in 0..<vocab { logits[i] = finite(logits[i] / t) } }
        let logNorm = Softmax.logSumExp(logits, count: vocab)

        // Penalty after recording the normaliser: it shapes the choice only.
        // The penalty divides positive and multiplies negative scaled logits;
        // with T > 0 the sign is unchanged by the scaling, so this equals
        // transformers' order (penalty, then temperature).
        var penalised: [(Int, Float)] = []
        if p.repetitionPenalty != 1 {
            var seen = Set<Int32>()
            for id in history where id >= 0 && Int(id) < vocab && seen.insert(id).inserted {
                let i = Int(id)
                penalised.append((i, logits[i]))
                logits[i] = finite(logits[i] > 0 ? logits[i] / p.repetitionPenalty : logits[i] * p.repetitionPenalty)
            }
        }
        defer { for (i, original) in penalised { logits[i] = original } }

        if p.temperature == 0 {
            var best = 0
            for i in 1..<vocab where logits[i] > logits[best] { best = i }
            return SampledToken(token: Int32(best), logProb: logitValue(best, penalised, logits) - logNorm)
        }

        if p.topK == 0 && p.topP >= 1 && p.minP == 0 {
            // Plain sampling (the RL default): one pass, no sorting.
            let (chosen, drawnLogit) = drawUnfiltered(logits: logits, vocab: vocab, rng: &rng)
            let logit = penalised.first(where: { $0.0 == chosen })?.1 ?? drawnLogit
            return SampledToken(token: Int32(chosen), logProb: logit - logNorm)
        }
        let candidates = filteredCandidates(logits: logits, vocab: vocab, params: p)
        // Draw from the renormalised candidates (probabilities in Double).
        var total = 0.0
        for c in candidates { total += c.p }
        var u = rng.nextUniform() * total
        var chosen = candidates[candidates.count - 1].index
        for c in candidates {
            u -= c.p
            if u < 0 {
                chosen = c.index
                break
            }
        }
        return SampledToken(token: Int32(chosen), logProb: logitValue(chosen, penalised, logits) - logNorm)
    }

    /// `x`, with ±infinity replaced by ±greatestFiniteMagnitude (NaN stays NaN).
    @inline(__always) static func finite(_ x: Float) -> Float {
        x.isInfinite ? (x > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude) : x
    }

    /// The scaled logit before any penalty.
    private static func logitValue(_ i: Int, _ penalised: [(Int, Float)], _ logits: UnsafeMutablePointer<Float>) -> Float {
        penalised.first(where: { $0.0 == i })?.1 ?? logits[i]
    }

    /// Inverse-CDF draw over all tokens, probabilities exp(logit − max).
    /// Overwrites logits with those weights; returns the token and its logit.
    private static func drawUnfiltered(logits: UnsafeMutablePointer<Float>, vocab: Int, rng: inout RandomStream) -> (Int, Float) {
        let maxLogit = VectorMath.max(UnsafePointer(logits), count: vocab)
        let total = Double(VectorMath.expShiftedInPlace(logits, count: vocab, shift: maxLogit))
        var u = rng.nextUniform() * total
        var chosen = 0
        for i in 0..<vocab where logits[i] > 0 {
            u -= Double(logits[i])
            chosen = i  // if rounding leaves u a hair above 0, the last candidate wins
            if u < 0 { break }
        }
        return (chosen, Float(Glibc.log(Double(logits[chosen]))) + maxLogit)
    }

    struct Candidate {
        let index: Int
        let p: Double
    }

    /// Tokens that survive top-k, then top-p, then min-p (transformers'
    /// order), with unnormalised probabilities exp(logit − max), most likely first.
    static func filteredCandidates(logits: UnsafeMutablePointer<Float>, vocab: Int, params p: SamplingParams) -> [Candidate] {
        let maxLogit = VectorMath.max(UnsafePointer(logits), count: vocab)
        var candidates: [Candidate] = []
        candidates.reserveCapacity(p.topK > 0 ? min(vocab, p.topK * 2) : vocab)
        for i in 0..<vocab where logits[i] > -.infinity {
            candidates.append(Candidate(index: i, p: Glibc.exp(Double(logits[i] - maxLogit))))
        }
        // Ties keep the lower token id first, so results are deterministic.
        candidates.sort { $0.p != $1.p ? $0.p > $1.p : $0.index < $1.index }
        if p.topK > 0 && candidates.count > p.topK {
            // transformers keeps every token tied with the k-th.
            let kth = candidates[p.topK - 1].p
            var end = p.topK
            while end < candidates.count && candidates[end].p == kth { end += 1 }
            candidates.removeSubrange(end...)
        }
        if p.topP < 1 {
            var total = 0.0
            for c in candidates { total += c.p }
            // Keep tokens until the cumulative mass reaches top_p (the token
            // that crosses it is kept), as transformers' TopPLogitsWarper does.
            var cumulative = 0.0
            var end = candidates.count
            for (j, c) in candidates.enumerated() {
                cumulative += c.p / total
                if cumulative >= Double(p.topP) {
                    end = j + 1
                    break
                }
            }
            candidates.removeSubrange(end...)
        }
        if p.minP > 0, let top = candidates.first {
            let threshold = Double(p.minP) * top.p
            candidates.removeAll { $0.p < threshold }
        }
        return candidates
    }
}
