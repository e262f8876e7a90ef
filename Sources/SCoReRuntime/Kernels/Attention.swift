import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Causal grouped-query attention over a KV cache.
///
/// Shapes (row-major F32):
///   q    [T × H·D]     queries of the T new tokens (positions p0 ..< p0+T)
///   k, v               cached keys/values for positions 0 ..< L (L = p0+T):
///                      KV head g's position j at g·headStride + j·rowStride
///                      (the KV cache is head-major: rowStride D, headStride
///                      capacity·D; a [L × G·D] matrix is rowStride G·D, headStride D)
///   out  [T × H·D]
/// H query heads share G key/value heads (head h reads group h / (H/G)).
/// Query t sees keys j with j <= p0+t and, with a sliding window W,
/// p0+t - j < W (Mistral's convention).
public enum Attention {
    /// Scores are computed for blocks of this many queries, bounding scratch
    /// memory to queryBlock × L floats however long the sequence. A block
    /// stops at its last query's keys, so the masked products it computes
    /// anyway shrink with it: 64 computes 1.13× the causal triangle of a
    /// 512-token prefill where 256 computed 1.5× (BF16-compute prefill
    /// +5-10%, alternating runs on Zen 4; F32 within noise). Masked keys
    /// weigh exactly 0, so every block size gives the same bits.
    public static let queryBlock = 64

    /// Scratch floats of one slot of `forward`. A BF16 cache (`widening`
    /// its head dimension) also needs room for one head's keys and values
    /// widened to F32 for the products.
    public static func scratchCount(queries: Int, keys: Int, queryBlock: Int = Attention.queryBlock,
                                    widening headDim: Int = 0) -> Int {
        min(queries, queryBlock) * keys + 2 * keys * headDim
    }

    /// `scratch` holds `scratchSlots` × `scratchCount(queries:keys:)`
    /// floats (with `widening: headDim` for a BF16 cache): the (query
    /// block, KV group) pairs are dealt over that many pool threads, each
    /// with its own slot (the group's heads and their products then run on
    /// its thread, a BF16 cache's keys and values widened once for them).
    /// A head's result does not depend on the split.
    public static func forward<E: CacheElement>(
        out: UnsafeMutablePointer<Float>,
        q: UnsafePointer<Float>,
        k: UnsafePointer<E>, v: UnsafePointer<E>,
        queries: Int, start: Int,
        heads: Int, kvHeads: Int, headDim: Int, rowStride: Int, headStride: Int,
        slidingWindow: Int?,
        scratch: UnsafeMutablePointer<Float>, scratchSlots: Int = 1,
        queryBlock: Int = Attention.queryBlock
    ) {
        let blocks = (queries + queryBlock - 1) / queryBlock
        let items = blocks * kvHeads, perGroup = heads / kvHeads
        let slot = scratchCount(queries: queries, keys: start + queries, queryBlock: queryBlock,
                                widening: E.self == Float.self ? 0 : headDim)
        let parts = max(1, min(scratchSlots, items))
        ThreadPool.shared.run(parts: parts) { part in
            var item = part
            while item < items {
                let (block, g) = item.quotientAndRemainder(dividingBy: kvHeads)
                let first = block * queryBlock, rows = min(queryBlock, queries - first)
                let scores = scratch + part * slot
                // Keys visible to the last query of the block; later ones are masked.
                let keyEnd = start + first + rows
                // Keys before this are outside every query's window in the block.
                let keyBegin = slidingWindow.map { max(0, start + first - $0 + 1) } ?? 0
                let keyCount = keyEnd - keyBegin
                // F32 keys and values in place; BF16 ones widened (exactly) once for the group.
                let kh: UnsafePointer<Float>, vh: UnsafePointer<Float>, kvStride: Int
                if E.self == Float.self {
                    kh = UnsafeRawPointer(k + keyBegin * rowStride + g * headStride).assumingMemoryBound(to: Float.self)
                    vh = UnsafeRawPointer(v + keyBegin * rowStride + g * headStride).assumingMemoryBound(to: Float.self)
                    kvStride = rowStride
                } else {
                    let widened = scores + rows * keyCount
                    for j in 0..<keyCount {
                        E.widen(k + (keyBegin + j) * rowStride + g * headStride, into: widened + j * headDim, count: headDim)
                        E.widen(v + (keyBegin + j) * rowStride + g * headStride, into: widened + (keyCount + j) * headDim, count: headDim)
                    }
                    kh = UnsafePointer(widened)
                    vh = UnsafePointer(widened + keyCount * headDim)
                    kvStride = headDim
                }
                for h in (g * perGroup)..<((g + 1) * perGroup) {
                    head(h, block: first, rows: rows, keyBegin: keyBegin, keyCount: keyCount,
                         out: out, q: q, k: kh, v: vh, kvStride: kvStride, start: start, heads: heads, headDim: headDim,
                         slidingWindow: slidingWindow, scratch: scores)
                }
                item += parts
            }
        }
    }

    /// Head h over the `rows` queries starting at query `block`, against
    /// its group's keys and values `keyBegin ..< keyBegin + keyCount` (k, v
    /// point at the first of them, rows `kvStride` apart).
    static func head(
        _ h: Int, block: Int, rows: Int, keyBegin: Int, keyCount: Int,
        out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
        k kh: UnsafePointer<Float>, v vh: UnsafePointer<Float>, kvStride: Int,
        start: Int, heads: Int, headDim: Int,
        slidingWindow: Int?, scratch: UnsafeMutablePointer<Float>
    ) {
        let qStride = heads * headDim
        let scale = 1 / sqrtf(Float(headDim))
        let qh = q + block * qStride + h * headDim
        // scores[rows × keyCount] = scale · q_h · k_hᵀ
        MatMul.matmulTransposedB(m: rows, n: keyCount, k: headDim,
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
        MatMul.matmul(m: rows, n: headDim, k: keyCount,
                      a: scratch, lda: keyCount, b: vh, ldb: kvStride,
                      c: out + block * qStride + h * headDim, ldc: qStride)
    }
}

extension Attention {
    /// One query (the newest position of a sequence) for one head: the
    /// decoding case, where a GEMM call per head costs more than the maths.
    /// q: [D] of head h; k, v: the cache (strides as `forward`); out: [D].
    public static func singleQuery(
        out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
        k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        position: Int, head h: Int, heads: Int, kvHeads: Int, headDim D: Int, rowStride kvStride: Int, headStride: Int,
        slidingWindow: Int?, scratch: UnsafeMutablePointer<Float>,
        prefetch: UnsafeMutablePointer<PrefetchStream>? = nil
    ) {
        let g = h / (heads / kvHeads)
        let begin = slidingWindow.map { max(0, position - $0 + 1) } ?? 0
        let count = position + 1 - begin
        let kh = k + begin * kvStride + g * headStride
        let vh = v + begin * kvStride + g * headStride
        let scale = 1 / sqrtf(Float(D))
        // Scores. Each is a 16-lane dot product summed lane by lane in order
        // (`SIMD.sum()`); sixteen keys at a time, the sixteen partial vectors
        // are transposed so that those sums become sixteen vector additions,
        // in the same order, instead of sixteen chains of lane extractions.
        var j = 0
        if D % 16 == 0 {
            while j + 16 <= count {
                prefetch?.pointee.advance()
                let sums = sixteenScores(q: q, keys: kh + j * kvStride, stride: kvStride, headDim: D)
                store(sums * V(repeating: scale), scratch + j)
                j += 16
            }
        }
        // The rest four keys at a time: four independent dot products keep
        // the FMA units busy where one would wait on its own previous result.
        while j + 4 <= count {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            var d = 0
            while d + 16 <= D {
                let qv = load(q + d)
                a0 = a0.addingProduct(load(kh + j * kvStride + d), qv)
                a1 = a1.addingProduct(load(kh + (j + 1) * kvStride + d), qv)
                a2 = a2.addingProduct(load(kh + (j + 2) * kvStride + d), qv)
                a3 = a3.addingProduct(load(kh + (j + 3) * kvStride + d), qv)
                d += 16
            }
            var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
            while d < D {
                s0 += kh[j * kvStride + d] * q[d]; s1 += kh[(j + 1) * kvStride + d] * q[d]
                s2 += kh[(j + 2) * kvStride + d] * q[d]; s3 += kh[(j + 3) * kvStride + d] * q[d]
                d += 1
            }
            scratch[j] = s0 * scale; scratch[j + 1] = s1 * scale
            scratch[j + 2] = s2 * scale; scratch[j + 3] = s3 * scale
            j += 4
        }
        while j < count {
            var s: Float = 0
            for d in 0..<D { s += kh[j * kvStride + d] * q[d] }
            scratch[j] = s * scale
            j += 1
        }
        Softmax.inPlace(scratch, count: count)
        // out = Σ_j p_j · v_j, 64 columns at a time held in registers across
        // all keys (one pass over V, no read-modify-write of out per key).
        var d = 0
        while d + 64 <= D {
            var o0 = V(), o1 = V(), o2 = V(), o3 = V()
            for j in 0..<count {
                if j & 15 == 0 { prefetch?.pointee.advance() }
                let p = V(repeating: scratch[j])
                let row = vh + j * kvStride + d
                o0 = o0.addingProduct(p, load(row)); o1 = o1.addingProduct(p, load(row + 16))
                o2 = o2.addingProduct(p, load(row + 32)); o3 = o3.addingProduct(p, load(row + 48))
            }
            store(o0, out + d); store(o1, out + d + 16); store(o2, out + d + 32); store(o3, out + d + 48)
            d += 64
        }
        while d + 16 <= D {
            var o = V()
            for j in 0..<count { o = o.addingProduct(V(repeating: scratch[j]), load(vh + j * kvStride + d)) }
            store(o, out + d)
            d += 16
        }
        while d < D {
            var o: Float = 0
            for j in 0..<count { o += scratch[j] * vh[j * kvStride + d] }
            out[d] = o
            d += 1
        }
    }

    /// q · k_i for sixteen keys k_i (rows `stride` apart), each equal bit for
    /// bit to `(Σ_d-chunks k_i[chunk] * q[chunk] as FMAs).sum()`; D % 16 == 0.
    @inline(__always)
    static func sixteenScores(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int, headDim D: Int) -> V {
        var a = InlineArray<16, V>(repeating: V())
        var d = 0
        while d < D {
            let qv = load(q + d)
            for i in 0..<16 { a[i] = a[i].addingProduct(load(keys + i * stride + d), qv) }
            d += 16
        }
        // Transpose: four rounds of "even lanes of rows 2i, 2i+1 to row i, odd
        // lanes to row i + 8" rotate the 8-bit (row, lane) index right by one
        // each, so after four, row l holds lane l of every key.
        for _ in 0..<4 {
            var next = InlineArray<16, V>(repeating: V())
            for i in 0..<8 {
                next[i] = V(lowHalf: a[2 * i].evenHalf, highHalf: a[2 * i + 1].evenHalf)
                next[i + 8] = V(lowHalf: a[2 * i].oddHalf, highHalf: a[2 * i + 1].oddHalf)
            }
            a = next
        }
        var sum = V(repeating: -0.0)  // as SIMD.sum() starts
        for l in 0..<16 { sum += a[l] }
        return sum
    }

    typealias V = SIMD16<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
}

/// Runs to bring into L2 a slice at a time while other work computes: a
/// decoding step's attention asks for the next (sequence, KV head)'s keys
/// and values every sixteen keys it computes. Asked for at once, they
/// filled the core's miss queue and stalled it until they arrived; a
/// slice at a time, memory and arithmetic overlap.
public struct PrefetchStream {
    private var next: (UnsafeRawPointer?, UnsafeRawPointer?)
    private var end: (UnsafeRawPointer?, UnsafeRawPointer?)
    private let slice: Int

    /// Nothing to ask for.
    public init() { (next, end, slice) = ((nil, nil), (nil, nil), 0) }

    /// Two runs (start, bytes), the first before the second, in `steps` slices of whole cache lines.
    public init(_ a: (UnsafeRawPointer, Int), _ b: (UnsafeRawPointer, Int), steps: Int) {
        next = (a.0, b.0)
        end = (a.0 + a.1, b.0 + b.1)
        slice = max(64, ((a.1 + b.1) / max(1, steps) + 63) / 64 * 64)
    }

    @inline(__always)
    mutating func advance() {
        if next.0 != nil { Self.ask(&next.0, until: end.0, slice) } else if next.1 != nil { Self.ask(&next.1, until: end.1, slice) }
    }

    /// One slice of a run from `next`; nil once the run is all asked for.
    @inline(__always)
    private static func ask(_ next: inout UnsafeRawPointer?, until end: UnsafeRawPointer?, _ slice: Int) {
        guard let p = next, let e = end else { return }
        let bytes = min(slice, e - p)
        scorek_prefetch(p, bytes)
        next = p + bytes < e ? p + bytes : nil
    }
}

/// What a KV cache holds, widened to F32 (exactly) before attention's
/// arithmetic, which is F32 for both.
public protocol CacheElement {
    static func widen(_ p: UnsafePointer<Self>, into out: UnsafeMutablePointer<Float>, count: Int)
}

extension Float: CacheElement {
    public static func widen(_ p: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        out.update(from: p, count: count)
    }
}

extension BF16: CacheElement {}  // widen(_:into:count:) is MatrixElement's
