#if canImport(Glibc)
import Glibc
#endif

/// Causal grouped-query attention over one whole sequence, for training.
///
/// The forward keeps only the log-sum-exp of every (row, head) score row;
/// the backward recomputes the probabilities block by block from q, k and
/// that log-sum-exp (as FlashAttention does) instead of storing
/// [heads × T × T] probabilities per layer, which for 8 × 256 tokens and 30
/// layers would be hundreds of MB.
///
/// Shapes (row-major F32, one sequence of T positions 0 ..< T):
///   q, out, dq [T × H·D]   k, v, dk, dv [T × G·D]   lse [T × H]
/// Head h reads key/value group h / (H/G). Query t sees keys j ≤ t, and with
/// a sliding window W only t − j < W.
public enum AttentionTraining {
    public static let queryBlock = 128

    /// Scratch floats needed for a sequence of `tokens` positions (two score blocks).
    public static func scratchCount(tokens: Int) -> Int { 2 * min(tokens, queryBlock) * tokens }

    public struct Shape {
        public let heads: Int, kvHeads: Int, headDim: Int
        public let window: Int?
        public init(heads: Int, kvHeads: Int, headDim: Int, window: Int?) {
            self.heads = heads
            self.kvHeads = kvHeads
            self.headDim = headDim
            self.window = window
        }
        var qStride: Int { heads * headDim }
        var kvStride: Int { kvHeads * headDim }
        var scale: Float { 1 / sqrtf(Float(headDim)) }

        /// Keys visible to the rows [block, block+rows): [begin, end).
        func keyRange(block: Int, rows: Int) -> (Int, Int) {
            (window.map { max(0, block - $0 + 1) } ?? 0, block + rows)
        }

        /// Visible keys of position t, relative to keyBegin.
        func visible(_ t: Int, keyBegin: Int) -> (Int, Int) {
            let begin = window.map { max(0, t - $0 + 1) } ?? 0
            return (begin - keyBegin, t + 1 - keyBegin)
        }
    }

    public static func forward(out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                        tokens T: Int, shape s: Shape, scratch: UnsafeMutablePointer<Float>) {
        let group = s.heads / s.kvHeads, D = s.headDim
        var block = 0
        while block < T {
            let rows = min(queryBlock, T - block)
            let (kb, ke) = s.keyRange(block: block, rows: rows)
            let keys = ke - kb
            for h in 0..<s.heads {
                let g = h / group
                MatMul.matmulTransposedB(m: rows, n: keys, k: D, a: q + block * s.qStride + h * D, lda: s.qStride,
                                       b: k + kb * s.kvStride + g * D, ldb: s.kvStride,
                                       c: scratch, ldc: keys, alpha: s.scale)
                for r in 0..<rows {
                    let t = block + r
                    let row = scratch + r * keys
                    let (vb, ve) = s.visible(t, keyBegin: kb)
                    for j in 0..<vb { row[j] = 0 }
                    for j in ve..<keys { row[j] = 0 }
                    let m = VectorMath.max(row + vb, count: ve - vb)
                    let sum = VectorMath.expShiftedInPlace(row + vb, count: ve - vb, shift: m)
                    let inv = 1 / sum
                    for j in vb..<ve { row[j] *= inv }
                    lse[t * s.heads + h] = m + logf(sum)
                }
                MatMul.matmul(m: rows, n: D, k: keys, a: scratch, lda: keys, b: v + kb * s.kvStride + g * D, ldb: s.kvStride,
                            c: out + block * s.qStride + h * D, ldc: s.qStride)
            }
            block += rows
        }
    }

    /// dq is written; dk and dv are ACCUMULATED (zero them first).
    public static func backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                         dout: UnsafePointer<Float>, out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
                         q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                         tokens T: Int, shape s: Shape, scratch: UnsafeMutablePointer<Float>) {
        let group = s.heads / s.kvHeads, D = s.headDim
        let blockFloats = min(T, queryBlock) * T
        let p = scratch, dp = scratch + blockFloats
        var block = 0
        while block < T {
            let rows = min(queryBlock, T - block)
            let (kb, ke) = s.keyRange(block: block, rows: rows)
            let keys = ke - kb
            for h in 0..<s.heads {
                let g = h / group
                let qh = q + block * s.qStride + h * D
                let kg = k + kb * s.kvStride + g * D, vg = v + kb * s.kvStride + g * D
                let doh = dout + block * s.qStride + h * D
                // P = exp(scale·q·kᵀ − lse) on visible keys, 0 elsewhere.
                MatMul.matmulTransposedB(m: rows, n: keys, k: D, a: qh, lda: s.qStride, b: kg, ldb: s.kvStride,
                                       c: p, ldc: keys, alpha: s.scale)
                // dP = dO·vᵀ
                MatMul.matmulTransposedB(m: rows, n: keys, k: D, a: doh, lda: s.qStride, b: vg, ldb: s.kvStride,
                                       c: dp, ldc: keys)
                for r in 0..<rows {
                    let t = block + r
                    let pr = p + r * keys, dpr = dp + r * keys
                    let (vb, ve) = s.visible(t, keyBegin: kb)
                    // δ = Σ_d dO·O = Σ_j P·dP: the softmax backward's row term.
                    var delta: Float = 0
                    let o = out + t * s.qStride + h * D, d = dout + t * s.qStride + h * D
                    for i in 0..<D { delta += o[i] * d[i] }
                    let l = lse[t * s.heads + h]
                    for j in 0..<vb { pr[j] = 0; dpr[j] = 0 }
                    for j in ve..<keys { pr[j] = 0; dpr[j] = 0 }
                    var j = vb
                    let shift = VectorMath.V(repeating: l), dv16 = VectorMath.V(repeating: delta)
                    while j + 16 <= ve {
                        let pj = VectorMath.exp(VectorMath.load(pr + j) - shift)
                        VectorMath.store(pj, pr + j)
                        VectorMath.store(pj * (VectorMath.load(dpr + j) - dv16), dpr + j)
                        j += 16
                    }
                    while j < ve {
                        let pj = VectorMath.exp(pr[j] - l)
                        pr[j] = pj
                        dpr[j] = pj * (dpr[j] - delta)
                        j += 1
                    }
                }
                // dS is in dp. dq_h = scale·dS·k ; dk += scale·dSᵀ·q ; dv += Pᵀ·dO
                MatMul.matmul(m: rows, n: D, k: keys, a: dp, lda: keys, b: kg, ldb: s.kvStride,
                            c: dq + block * s.qStride + h * D, ldc: s.qStride, alpha: s.scale)
                MatMul.matmulTransposedA(m: keys, n: D, k: rows, a: dp, lda: keys, b: qh, ldb: s.qStride,
                                       c: dk + kb * s.kvStride + g * D, ldc: s.kvStride, alpha: s.scale, beta: 1)
                MatMul.matmulTransposedA(m: keys, n: D, k: rows, a: p, lda: keys, b: doh, ldb: s.qStride,
                                       c: dv + kb * s.kvStride + g * D, ldc: s.kvStride, beta: 1)
            }
            block += rows
        }
    }
}
