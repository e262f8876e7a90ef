/// A weight matrix W [rows × cols] (Hugging Face's [out × in]) in the type
/// it is kept in: F32, or BF16 for BF16 checkpoints (half the bytes a
/// decoding step reads). Every product computes in F32 either way, and a
/// BF16 value widens to F32 exactly, so both give the results of the
/// checkpoint's weights in F32 arithmetic.
public struct WeightMatrix: @unchecked Sendable {
    public enum Storage {
        case f32(UnsafePointer<Float>)
        case bf16(UnsafePointer<BF16>)
    }

    public let storage: Storage
    public let rows: Int
    public let cols: Int

    public init(_ storage: Storage, rows: Int, cols: Int) {
        self.storage = storage
        self.rows = rows
        self.cols = cols
    }

    public init(f32 pointer: UnsafePointer<Float>, rows: Int, cols: Int) {
        self.init(.f32(pointer), rows: rows, cols: cols)
    }

    /// The F32 elements, nil for a BF16 matrix.
    public var f32: UnsafePointer<Float>? {
        if case .f32(let p) = storage { return p }
        return nil
    }

    public var isBF16: Bool {
        if case .bf16 = storage { return true }
        return false
    }

    public var bytes: Int { rows * cols * (isBF16 ? 2 : 4) }

    /// Row `r` as F32 (an embedding lookup).
    public func copyRow(_ r: Int, to out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .f32(let p): out.update(from: p + r * cols, count: cols)
        case .bf16(let p): BF16.widen(p + r * cols, into: out, count: cols)
        }
    }

    /// Rows that a widened block of a BF16 matrix may hold: 16 MB of F32,
    /// so a block is usually a whole projection and sgemm sees large shapes.
    static let widenedBlockFloats = 1 << 22

    /// out[m × n] (= or +=) x[m × cols] · W[rowRange]ᵀ, n = rowRange.count;
    /// out's column j is W's row rowRange.lowerBound + j.
    ///
    /// A few rows stream W through `SkinnyMatmul` in its own type. So do
    /// the rows of a decoding step however many (`streaming`), in groups of
    /// `SkinnyMatmul.maxRows`: every row's result is then the same whatever
    /// the batch size, so a sequence samples the same tokens alone or among
    /// a hundred others, and a BF16 matrix is never widened per step. More
    /// rows (prefill, scoring) go to OpenBLAS sgemm; a BF16 matrix is first
    /// widened block by block, which costs a fraction of the product.
    public func multiply(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int,
                         rowRange: Range<Int>? = nil,
                         into out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool,
                         streaming: Bool = false) {
        let range = rowRange ?? 0..<rows
        let n = range.count
        guard m > 0, n > 0 else { return }
        if streaming && m > SkinnyMatmul.maxRows {
            var first = 0
            while first < m {
                let count = min(SkinnyMatmul.maxRows, m - first)
                multiply(x + first * ldx, rows: count, ldx: ldx, rowRange: range,
                         into: out + first * ldo, ldo: ldo, accumulate: accumulate)
                first += count
            }
            return
        }
        if m <= SkinnyMatmul.maxRows {
            switch storage {
            case .f32(let p):
                SkinnyMatmul.forward(m: m, n: n, k: cols, x: x, ldx: ldx, w: p + range.lowerBound * cols,
                                     out: out, ldo: ldo, accumulate: accumulate)
            case .bf16(let p):
                SkinnyMatmul.forward(m: m, n: n, k: cols, x: x, ldx: ldx, w: p + range.lowerBound * cols,
                                     out: out, ldo: ldo, accumulate: accumulate)
            }
            return
        }
        switch storage {
        case .f32(let p):
            BLAS.matmulTransposedB(m: m, n: n, k: cols, a: x, lda: ldx, b: p + range.lowerBound * cols, ldb: cols,
                                   c: out, ldc: ldo, beta: accumulate ? 1 : 0)
        case .bf16(let p):
            let blockRows = max(1, min(n, WeightMatrix.widenedBlockFloats / max(cols, 1)))
            let widened = FloatBuffer(count: blockRows * cols, zeroed: false)
            var first = 0
            while first < n {
                let count = min(blockRows, n - first)
                let source = p + (range.lowerBound + first) * cols
                let perPart = max(1, (count + 7) / 8)
                ThreadPool.shared.run(parts: (count + perPart - 1) / perPart) { part in
                    let r0 = part * perPart, r1 = min(count, r0 + perPart)
                    BF16.widen(source + r0 * cols, into: widened.pointer + r0 * cols, count: (r1 - r0) * cols)
                }
                BLAS.matmulTransposedB(m: m, n: count, k: cols, a: x, lda: ldx, b: widened.pointer, ldb: cols,
                                       c: out + first, ldc: ldo, beta: accumulate ? 1 : 0)
                first += count
            }
        }
    }

    /// An F32 copy of a BF16 matrix (nil when it already is F32).
    func widenedCopy() -> FloatBuffer? {
        guard case .bf16(let p) = storage else { return nil }
        let buffer = FloatBuffer(count: rows * cols, zeroed: false)
        BF16.widen(p, into: buffer.pointer, count: rows * cols)
        return buffer
    }
}
