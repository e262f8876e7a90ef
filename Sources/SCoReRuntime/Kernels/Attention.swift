#if canImport(Glibc)
import Glibc
#endif

/// Causal grouped-query attention over a KV cache.
///
/// Shapes (row-major F32):
///   q    [T × H·D]     queries of the T new tokens (positions p0 ..< p0+T)
///   k, v [L × G·D]     cached keys/values for positions 0 ..< L (L = p0+T)
///   out  [T × H·D]
/// H query heads share G key/value heads (head h reads group h / (H/G)).
/// Query t sees keys j with j <= p0+t and, with a sliding window W,
/// p0+t - j < W (Mistral's convention).
public enum Attention {
    /// Scores are computed for blocks of this many queries, bounding scratch
    /// memory to queryBlock × L floats however long the sequence.
    public static let queryBlock = 256

    public static func scratchCount(queries: Int, keys: Int) -> Int {
        min(queries, queryBlock) * keys
    }

    public static func forward(
        out: UnsafeMutablePointer<Float>,
        q: UnsafePointer<Float>,
        k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        queries: Int, start: Int,
        heads: Int, kvHeads: Int, headDim: Int,
        slidingWindow: Int?,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let qStride = heads * headDim
        let kvStride = kvHeads * headDim
        let groupSize = heads / kvHeads
        let scale = 1 / sqrtf(Float(headDim))
        var block = 0
        while block < queries {
            let rows = min(queryBlock, queries - block)
            // Keys visible to the last query of the block; later ones are masked.
            let keyEnd = start + block + rows
            // Keys before this are outside every query's window in the block.
            let keyBegin = slidingWindow.map { max(0, start + block - $0 + 1) } ?? 0
            let keyCount = keyEnd - keyBegin
            for h in 0..<heads {
                let g = h / groupSize
                let qh = q + block * qStride + h * headDim
                let kh = k + keyBegin * kvStride + g * headDim
                let vh = v + keyBegin * kvStride + g * headDim
                // scores[rows × keyCount] = scale · q_h · k_hᵀ
                BLAS.matmulTransposedB(m: rows, n: keyCount, k: headDim,
                                       a: qh, lda: qStride, b: kh, ldb: kvStride,
                                       c: scratch, ldc: keyCount, alpha: scale)
                for r in 0..<rows {
                    let position = start + block + r
                    let row = scratch + r * keyCount
                    let visibleEnd = position + 1 - keyBegin
                    var visibleBegin = 0
                    if let w = slidingWindow { visibleBegin = max(0, position - w + 1 - keyBegin) }
                    // Only the visible keys take part; the rest weigh exactly 0.
                    for j in 0..<visibleBegin { row[j] = 0 }
                    for j in visibleEnd..<keyCount { row[j] = 0 }
                    Softmax.inPlace(row + visibleBegin, count: visibleEnd - visibleBegin)
                }
                // out_h[rows × D] = scores · v_h
                BLAS.matmul(m: rows, n: headDim, k: keyCount,
                            a: scratch, lda: keyCount, b: vh, ldb: kvStride,
                            c: out + block * qStride + h * headDim, ldc: qStride)
            }
            block += rows
        }
    }
}

extension Attention {
    /// One query (the newest position of a sequence) for one head: the
    /// decoding case, where a GEMM call per head costs more than the maths.
    /// q: [D] of head h; k, v: the cache [L × G·D]; out: [D].
    public static func singleQuery(
        out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
        k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        position: Int, head h: Int, heads: Int, kvHeads: Int, headDim D: Int,
        slidingWindow: Int?, scratch: UnsafeMutablePointer<Float>
    ) {
        let kvStride = kvHeads * D
        let g = h / (heads / kvHeads)
        let begin = slidingWindow.map { max(0, position - $0 + 1) } ?? 0
        let count = position + 1 - begin
        SkinnyMatmul.rows(0, count, m: 1, k: D, x: q, ldx: D,
                          w: k + begin * kvStride + g * D, ldw: kvStride,
                          out: scratch, ldo: count, accumulate: false)
        let scale = 1 / sqrtf(Float(D))
        for j in 0..<count { scratch[j] *= scale }
        Softmax.inPlace(scratch, count: count)
        out.initialize(repeating: 0, count: D)
        let vh = v + begin * kvStride + g * D
        for j in 0..<count {
            let p = scratch[j]
            let row = vh + j * kvStride
            var d = 0
            while d + 16 <= D {
                VectorMath.store(VectorMath.load(out + d).addingProduct(VectorMath.V(repeating: p), VectorMath.load(row + d)), out + d)
                d += 16
            }
            while d < D {
                out[d] += p * row[d]
                d += 1
            }
        }
    }
}
