import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// The LM head, log-softmax and loss fused over blocks of rows: logits exist
/// for at most `blockRows` rows at a time (with a 151,936-entry vocabulary a
/// whole [tokens × vocab] buffer would be 620 MB per 1,024 tokens). Only rows
/// that carry a loss term are gathered and multiplied.
///
/// For a row with logits z, p = softmax(z), target y and coefficients
/// w (on −log p_y) and κ (on the KL term, β included):
///   dz = w·(p − e_y)                               policy / cross-entropy
///      + κ·(e_y − p)·{k1: 1, k3: 1 − e^(l_ref − l)} (sign: d l/dz = e_y − p)
///      + κ·p ⊙ (log p − log q − KL)                 exact KL, q = softmax(z_ref)
public enum LossHead {
    public struct Result {
        public var loss: Double = 0        // the objective: policy part + KL part
        public var policyLoss: Double = 0  // Σ w·(−log p_y)
        public var klLoss: Double = 0      // Σ κ·KL_t (β included)
        public var klMean: Double = 0      // Σ (κ/β_t)·KL_t: the aggregated KL itself
        /// log π(target) per row (0 for rows without a target).
        public var logProbs: [Float] = []
        /// KL_t per row (0 for rows without a KL term).
        public var klValues: [Float] = []
    }

    /// Each block re-packs the head's panels for two products (z = h·Wᵀ and
    /// dh = dz·W) and reads and writes all of dHead once: 256 rows keep that
    /// traffic to a few percent of the block's arithmetic. The logits buffer
    /// is then 48 MB for SmolLM2's 49,152 entries; larger vocabularies get
    /// fewer rows (64 MB of logits at most).
    static func blockRows(vocab: Int) -> Int { max(8, min(256, (1 << 24) / max(vocab, 1))) }

    /// Writes dHidden [R × H] (zero on inactive rows) and accumulates dHead
    /// [V × H] when not nil. `reference` (hidden states and head of the
    /// reference policy) is needed for the exact KL.
    public static func run(hidden: UnsafePointer<Float>, head: UnsafePointer<Float>, rows R: Int, hiddenSize H: Int, vocab V: Int,
                    targets: RowTargets, objective: Objective,
                    reference: (hidden: UnsafePointer<Float>, head: UnsafePointer<Float>)?,
                    dHidden: UnsafeMutablePointer<Float>, dHead: UnsafeMutablePointer<Float>?) -> Result {
        var result = Result()
        result.logProbs = Array(repeating: 0, count: R)
        result.klValues = Array(repeating: 0, count: R)
        dHidden.initialize(repeating: 0, count: R * H)
        let exact = targets.usesKL && objective.klEstimator == .exact
        let block = blockRows(vocab: V)
        let h = FloatBuffer(count: block * H, zeroed: false)
        let hRef = FloatBuffer(count: exact ? block * H : 0, zeroed: false)
        let z = FloatBuffer(count: block * V, zeroed: false)
        let zRef = FloatBuffer(count: exact ? block * V : 0, zeroed: false)
        let dh = FloatBuffer(count: block * H, zeroed: false)
        let active = targets.active
        var first = 0
        while first < active.count {
            let n = min(block, active.count - first)
            let rows = active[first..<(first + n)]
            for (i, r) in rows.enumerated() { (h.pointer + i * H).update(from: hidden + r * H, count: H) }
            MatMul.matmulTransposedB(m: n, n: V, k: H, a: h.pointer, lda: H, b: head, ldb: H, c: z.pointer, ldc: V)
            if exact, let reference {
                for (i, r) in rows.enumerated() { (hRef.pointer + i * H).update(from: reference.hidden + r * H, count: H) }
                MatMul.matmulTransposedB(m: n, n: V, k: H, a: hRef.pointer, lda: H, b: reference.head, ldb: H, c: zRef.pointer, ldc: V)
            }
            // Rows are independent: spread them over the pool, then add their terms in row order.
            let rowList = Array(rows)
            var rowPolicy = [Double](repeating: 0, count: n), rowKL = [Double](repeating: 0, count: n)
            rowPolicy.withUnsafeMutableBufferPointer { policyOut in
                rowKL.withUnsafeMutableBufferPointer { klOut in
                    result.logProbs.withUnsafeMutableBufferPointer { lpOut in
                        let (po, ko, lo) = (policyOut.baseAddress!, klOut.baseAddress!, lpOut.baseAddress!)
                        Parallel.chunks(n, grain: max(1, 16384 / V)) { range in
                            for i in range {
                                let r = rowList[i]
                                let (lp, policy, kl) = row(z.pointer + i * V, zRef: exact ? zRef.pointer + i * V : nil, vocab: V,
                                                           target: Int(targets.target[r]), w: targets.policy[r], kappa: targets.kl[r],
                                                           referenceLogProb: targets.referenceLogProbs?[r], estimator: objective.klEstimator)
                                lo[r] = lp
                                po[i] = policy
                                ko[i] = kl
                            }
                        }
                    }
                }
            }
            for i in 0..<n {
                let r = rowList[i]
                result.policyLoss += rowPolicy[i]
                let kappa = targets.kl[r]
                if kappa != 0 {
                    result.klLoss += Double(kappa) * rowKL[i]
                    result.klMean += Double(targets.klAverage[r]) * rowKL[i]
                    result.klValues[r] = Float(rowKL[i])
                }
            }
            // z now holds dz [n × V].
            MatMul.matmul(m: n, n: H, k: V, a: z.pointer, lda: V, b: head, ldb: H, c: dh.pointer, ldc: H)
            for (i, r) in rows.enumerated() { (dHidden + r * H).update(from: dh.pointer + i * H, count: H) }
            if let dHead {
                MatMul.matmulTransposedA(m: V, n: H, k: n, a: z.pointer, lda: V, b: h.pointer, ldb: H, c: dHead, ldc: H, beta: 1)
            }
            first += n
        }
        result.loss = result.policyLoss + result.klLoss
        return result
    }

    /// One row: turns logits zr [V] into dz in place; returns (log p_y, w·(−log p_y), KL_t).
    private static func row(_ zr: UnsafeMutablePointer<Float>, zRef: UnsafeMutablePointer<Float>?, vocab V: Int,
                            target y: Int, w: Float, kappa: Float, referenceLogProb: Float?,
                            estimator: KLEstimator) -> (Float, Double, Double) {
        let lse = Softmax.logSumExp(zr, count: V)
        let lp = zr[y] - lse
        var g = w  // coefficient of (p − e_y)
        var klValue: Double = 0
        switch estimator {
        case .k1 where kappa != 0:
            klValue = Double(lp - referenceLogProb!)
            g -= kappa
        case .k3 where kappa != 0:
            let d = referenceLogProb! - lp
            let ratio = VectorMath.exp(d)
            klValue = Double(ratio - 1 - d)
            g -= kappa * (1 - ratio)
        default:
            break
        }
        if let qr = zRef, kappa != 0 {
            let lseRef = Softmax.logSumExp(qr, count: V)
            var kl: Double = 0
            for j in 0..<V {
                let lpj = zr[j] - lse, lqj = qr[j] - lseRef
                let pj = VectorMath.exp(lpj)
                zr[j] = pj
                qr[j] = pj * (lpj - lqj)
                kl += Double(qr[j])
            }
            klValue = kl
            let klf = Float(kl)
            for j in 0..<V { zr[j] = g * zr[j] + kappa * (qr[j] - zr[j] * klf) }
        } else {
            scorek_scaled_exp_shifted(zr, V / 16, lse, g)
            var j = V / 16 * 16
            while j < V { zr[j] = g * VectorMath.exp(zr[j] - lse); j += 1 }
        }
        zr[y] -= g
        return (lp, Double(w) * Double(-lp), klValue)
    }
}
