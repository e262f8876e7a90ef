#if canImport(Glibc)
import Glibc
#endif

/// torch.optim.AdamW's hyper-parameters (same defaults).
public struct AdamWConfig: Sendable, Equatable {
    public var learningRate: Float = 1e-3
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float = 0.01

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    func validate() throws {
        guard learningRate.isFinite, learningRate >= 0 else { throw ScoreError.invalidArgument("learning rate \(learningRate) must be finite and ≥ 0") }
        guard beta1.isFinite, beta1 >= 0, beta1 < 1 else { throw ScoreError.invalidArgument("beta1 \(beta1) must be in [0, 1)") }
        guard beta2.isFinite, beta2 >= 0, beta2 < 1 else { throw ScoreError.invalidArgument("beta2 \(beta2) must be in [0, 1)") }
        guard epsilon.isFinite, epsilon > 0 else { throw ScoreError.invalidArgument("epsilon \(epsilon) must be finite and > 0") }
        guard weightDecay.isFinite, weightDecay >= 0 else { throw ScoreError.invalidArgument("weight decay \(weightDecay) must be finite and ≥ 0") }
    }
}

/// AdamW over flat buffers, step for step the arithmetic of PyTorch's
/// single-tensor AdamW (decoupled weight decay first, then the moments by
/// lerp / multiply-add, bias corrections in double, F32 updates):
///   θ ← θ·(1 − lr·λ)
///   m ← m + (1 − β1)·(g − m);   v ← β2·v + (1 − β2)·g²
///   θ ← θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)
public enum AdamW {
    public static func step(values: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>,
                            m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                            config c: AdamWConfig, learningRate lr: Double, step t: Int) {
        let decay = Float(1 - lr * Double(c.weightDecay))
        let b1 = Double(c.beta1), b2 = Double(c.beta2)
        let stepSize = Float(lr / (1 - pow(b1, Double(t))))
        let correction2 = Float((1 - pow(b2, Double(t))).squareRoot())
        let w1 = 1 - c.beta1, w2 = 1 - c.beta2, beta2 = c.beta2, eps = c.epsilon
        Parallel.chunks(count, grain: 1 << 15) { range in
            // 16 lanes at a time, the same IEEE operations per element in
            // the same order (no fusing), so the same bits as the scalar
            // loop below, which Swift does not vectorise (sqrt's domain check).
            typealias V = VectorMath.V
            let decayV = V(repeating: decay), w1V = V(repeating: w1), w2V = V(repeating: w2), beta2V = V(repeating: beta2)
            let stepV = V(repeating: stepSize), correctionV = V(repeating: correction2), epsV = V(repeating: eps)
            var j = range.lowerBound
            while j + 16 <= range.upperBound {
                let g = VectorMath.load(grads + j), m0 = VectorMath.load(m + j)
                let p = VectorMath.load(values + j) * decayV
                let mi = m0 + w1V * (g - m0)
                let vi = VectorMath.load(v + j) * beta2V + w2V * g * g
                VectorMath.store(mi, m + j)
                VectorMath.store(vi, v + j)
                VectorMath.store(p - stepV * (mi / (vi.squareRoot() / correctionV + epsV)), values + j)
                j += 16
            }
            for i in j..<range.upperBound {
                let g = grads[i]
                var p = values[i] * decay
                let mi = m[i] + w1 * (g - m[i])
                let vi = v[i] * beta2 + w2 * g * g
                m[i] = mi
                v[i] = vi
                p -= stepSize * (mi / (vi.squareRoot() / correction2 + eps))
                values[i] = p
            }
        }
    }
}

/// torch.nn.utils.clip_grad_norm_: scale every gradient by
/// min(1, maxNorm / (‖g‖₂ + 1e-6)) where ‖g‖₂ is the norm over all of them.
public enum GradientClipping {
    /// The global L2 norm (accumulated in double); NaN/∞ when any entry is.
    /// Eight running sums per chunk: one chain of dependent additions was
    /// latency-bound (1.5% of a training step). The order differs from a
    /// plain loop by ~1e-16 relative, far below the F32 clip coefficient's
    /// resolution.
    public static func norm(_ g: UnsafePointer<Float>, count: Int) -> Double {
        Parallel.sum(count, grain: 1 << 15) { range in
            var s = SIMD8<Double>(repeating: 0)
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let x = SIMD8<Double>(Double(g[i]), Double(g[i + 1]), Double(g[i + 2]), Double(g[i + 3]),
                                      Double(g[i + 4]), Double(g[i + 5]), Double(g[i + 6]), Double(g[i + 7]))
                s += x * x
                i += 8
            }
            var total = s.sum()
            while i < range.upperBound {
                total += Double(g[i]) * Double(g[i])
                i += 1
            }
            return total
        }.squareRoot()
    }

    /// Clips in place and returns the norm before clipping.
    @discardableResult
    public static func clip(_ g: UnsafeMutablePointer<Float>, count: Int, maxNorm: Float) -> Double {
        let total = norm(g, count: count)
        guard maxNorm > 0, total.isFinite else { return total }
        let coefficient = Float(Double(maxNorm) / (total + 1e-6))
        if coefficient < 1 {
            Parallel.chunks(count, grain: 1 << 15) { range in for i in range { g[i] *= coefficient } }
        }
        return total
    }
}

/// Learning-rate schedules with the formulas of transformers'
/// get_constant_schedule_with_warmup, get_linear_schedule_with_warmup and
/// get_cosine_schedule_with_warmup (num_cycles 0.5): the multiplier for the
/// optimiser step numbered `step` from 0 (so with warm-up the first step has lr 0).
public struct LRSchedule: Sendable, Equatable {
    public enum Kind: Int32, Sendable { case constant = 0, linear = 1, cosine = 2 }
    public var kind: Kind
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(kind: Kind = .constant, warmupSteps: Int = 0, totalSteps: Int = 0) {
        self.kind = kind
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    func validate() throws {
        guard warmupSteps >= 0 else { throw ScoreError.invalidArgument("warm-up steps \(warmupSteps) must be ≥ 0") }
        if kind != .constant && totalSteps <= 0 {
            throw ScoreError.invalidArgument("a \(kind) schedule needs total steps > 0")
        }
    }

    public func multiplier(step: Int) -> Double {
        if step < warmupSteps { return Double(step) / Double(max(1, warmupSteps)) }
        switch kind {
        case .constant:
            return 1
        case .linear:
            return max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            return max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress)))
        }
    }
}
