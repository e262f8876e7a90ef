import CKernels

/// A weight matrix W [rows × cols] (Hugging Face's [out × in]) in the form
/// it is kept in:
/// - `f32` / `bf16`: as stored (row-major), e.g. a trainer's parameters;
/// - `packedF32` / `packedBF16`: packed once at load into the panels our
///   kernels stream (`Sources/CKernels/gemm`), see `Weights.packed`.
///
/// F32 compute (the default) gives the same bits for all four: a BF16
/// value widens to F32 exactly and every product sums in the same order.
/// `packedBF16` with `bf16Compute` rounds the activations to BF16 too and
/// multiplies BF16 × BF16 (vdpbf16ps): faster, not bit-equal.
public struct WeightMatrix: @unchecked Sendable {
    public enum Storage {
        case f32(UnsafePointer<Float>)
        case bf16(UnsafePointer<BF16>)
        case packedF32(UnsafePointer<Float>)
        case packedBF16(UnsafePointer<UInt16>, bf16Compute: Bool)
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

    /// The F32 elements in row-major order, nil for any other storage.
    public var f32: UnsafePointer<Float>? {
        if case .f32(let p) = storage { return p }
        return nil
    }

    /// Whether the elements are BF16 (as stored or packed).
    public var isBF16: Bool {
        switch storage {
        case .bf16, .packedBF16: return true
        case .f32, .packedF32: return false
        }
    }

    /// Where the elements start (two matrices with one address are one: tied embeddings).
    var address: UnsafeRawPointer {
        switch storage {
        case .f32(let p): return UnsafeRawPointer(p)
        case .bf16(let p): return UnsafeRawPointer(p)
        case .packedF32(let p): return UnsafeRawPointer(p)
        case .packedBF16(let p, _): return UnsafeRawPointer(p)
        }
    }

    public var isPacked: Bool {
        switch storage {
        case .packedF32, .packedBF16: return true
        case .f32, .bf16: return false
        }
    }

    /// Bytes of the elements (a packed matrix's last panel is padded).
    public var bytes: Int {
        switch storage {
        case .f32: return rows * cols * 4
        case .bf16: return rows * cols * 2
        case .packedF32: return scorek_packed_f32_size(rows, cols) * 4
        case .packedBF16: return scorek_packed_bf16_size(rows, cols) * 2
        }
    }

    /// Row `r` as F32 (an embedding lookup).
    public func copyRow(_ r: Int, to out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .f32(let p): out.update(from: p + r * cols, count: cols)
        case .bf16(let p): BF16.widen(p + r * cols, into: out, count: cols)
        case .packedF32(let p): scorek_packed_f32_row(p, cols, r, out)
        case .packedBF16(let p, _): scorek_packed_bf16_row(p, cols, r, out)
        }
    }

    /// Rows that a widened block of a row-major BF16 matrix may hold: 16 MB
    /// of F32, so a block is usually a whole projection.
    static let widenedBlockFloats = 1 << 22

    /// out[m × rows] (= or +=) x[m × cols] · Wᵀ.
    ///
    /// Every storage runs our kernels, for any m: a row's result is the same
    /// whatever the batch size, so a sequence samples the same tokens alone
    /// or among a hundred others. Packed panels are streamed as they are; a
    /// row-major F32 matrix is packed block by block on the fly; a row-major
    /// BF16 one is widened block by block first.
    public func multiply(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int,
                         into out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        let n = rows, k = cols
        guard m > 0, n > 0 else { return }
        // Streaming a weight from memory costs about what 16 multiply-adds do:
        // a decoding step splits even a small projection across the threads.
        let work = max(m, 16) * n * k
        if let pairs = WeightMatrix.roundedOnce([self], x, rows: m, ldx: ldx) {
            multiplyRounded(pairs, rows: m, into: out, ldo: ldo, accumulate: accumulate)
            return
        }
        switch storage {
        case .packedF32, .packedBF16:
            MatMul.split(m: m, n: n, k: k, work: work) { r, c in
                multiplyPacked(x, rows: r, ldx: ldx, columns: c, into: out, ldo: ldo, accumulate: accumulate)
            }
        case .f32(let p):
            MatMul.matmulTransposedB(m: m, n: n, k: k, a: x, lda: ldx, b: p, ldb: k,
                                     c: out, ldc: ldo, beta: accumulate ? 1 : 0)
        case .bf16(let p):
            let blockRows = max(1, min(n, WeightMatrix.widenedBlockFloats / max(k, 1)))
            let widened = FloatBuffer(count: blockRows * k, zeroed: false)
            var first = 0
            while first < n {
                let count = min(blockRows, n - first)
                let source = p + first * k
                let perPart = max(1, (count + 7) / 8)
                ThreadPool.shared.run(parts: (count + perPart - 1) / perPart) { part in
                    let r0 = part * perPart, r1 = min(count, r0 + perPart)
                    BF16.widen(source + r0 * k, into: widened.pointer + r0 * k, count: (r1 - r0) * k)
                }
                MatMul.matmulTransposedB(m: m, n: count, k: k, a: x, lda: ldx, b: widened.pointer, ldb: k,
                                         c: out + first, ldc: ldo, beta: accumulate ? 1 : 0)
                first += count
            }
        }
    }

    /// out[rows, columns] (= or +=) x[rows] · W[columns]ᵀ on packed panels;
    /// `columns` starts on a panel boundary.
    @inline(__always)
    private func multiplyPacked(_ x: UnsafePointer<Float>, rows r: Range<Int>, ldx: Int, columns c: Range<Int>,
                                into out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        let k = cols
        switch storage {
        case .packedF32(let p):
            scorek_gemm_packed_f32(r.count, c.count, k, x + r.lowerBound * ldx, ldx,
                                   p + c.lowerBound * k, out + r.lowerBound * ldo + c.lowerBound, ldo,
                                   accumulate ? 1 : 0)
        case .packedBF16(let p, let bf16Compute):
            let pairs = (k + 1) / 2 * 2
            scorek_gemm_packed_bf16(r.count, c.count, k, x + r.lowerBound * ldx, ldx,
                                    p + c.lowerBound * pairs, out + r.lowerBound * ldo + c.lowerBound, ldo,
                                    accumulate ? 1 : 0, bf16Compute ? 1 : 0)
        case .f32, .bf16:
            preconditionFailure("multiplyPacked on a row-major matrix")
        }
    }

    /// outs[i][m × W_i.rows] = x[m × cols] · W_iᵀ for matrices that read the
    /// same input (a layer's q, k and v; its gate and up).
    ///
    /// A decoding step's few rows on packed weights make one pool dispatch
    /// for the whole group, its panels dealt out evenly over the threads:
    /// the threads meet once instead of once per matrix, and the short
    /// matrices (k and v) stop leaving a core idle. Same bits as one
    /// `multiply` each (every element's sum is unchanged).
    public static func multiply(group: [(matrix: WeightMatrix, out: UnsafeMutablePointer<Float>)],
                         _ x: UnsafePointer<Float>, rows m: Int, ldx: Int) {
        let fused = group.count > 1 && m <= groupedRows && group.allSatisfy { $0.matrix.isPacked }
        guard fused, m > 0 else {
            if let pairs = roundedOnce(group.map(\.matrix), x, rows: m, ldx: ldx) {
                for g in group { g.matrix.multiplyRounded(pairs, rows: m, into: g.out, ldo: g.matrix.rows, accumulate: false) }
                return
            }
            for g in group { g.matrix.multiply(x, rows: m, ldx: ldx, into: g.out, ldo: g.matrix.rows, accumulate: false) }
            return
        }
        let panel = Int(SCOREK_PANEL)
        var firstPanel = [0]
        var work = 0
        for g in group {
            firstPanel.append(firstPanel.last! + (g.matrix.rows + panel - 1) / panel)
            work += max(m, 16) * g.matrix.rows * g.matrix.cols
        }
        let panels = firstPanel.last!
        let pool = ThreadPool.shared
        let parts = work >= MatMul.parallelWork ? min(pool.threads, panels) : 1
        pool.run(parts: parts) { part in
            let lo = panels * part / parts, hi = panels * (part + 1) / parts
            for (i, g) in group.enumerated() {
                let from = max(lo, firstPanel[i]) - firstPanel[i], to = min(hi, firstPanel[i + 1]) - firstPanel[i]
                guard from < to else { continue }
                g.matrix.multiplyPacked(x, rows: 0..<m, ldx: ldx, columns: (from * panel)..<min(g.matrix.rows, to * panel),
                                        into: g.out, ldo: g.matrix.rows, accumulate: false)
            }
        }
    }

    /// x rounded to BF16 pairs once, the threads sharing the rows, when
    /// every matrix computes in BF16 on a path with `vdpbf16ps` and the rows
    /// are a prefill's or a scoring batch's (more than `groupedRows`);
    /// nil otherwise. Each thread's slab of a product would otherwise round
    /// all of x itself, once per matrix: a q, k, v group on two threads
    /// rounded it six times (4.8% of a BF16-compute prefill).
    static func roundedOnce(_ matrices: [WeightMatrix], _ x: UnsafePointer<Float>, rows m: Int, ldx: Int) -> RoundedRows? {
        guard m > groupedRows, let k = matrices.first?.cols, scorek_gemm_has_bf16dot() != 0,
              matrices.allSatisfy({ if case .packedBF16(_, true) = $0.storage { $0.cols == k } else { false } }) else { return nil }
        let rounded = RoundedRows(rows: m, cols: k)
        let pool = ThreadPool.shared, parts = min(pool.threads, m)
        pool.run(parts: parts) { part in
            let first = m * part / parts, last = m * (part + 1) / parts
            scorek_round_pairs(last - first, k, x + first * ldx, ldx, rounded.words + first * rounded.stride)
        }
        return rounded
    }

    /// out (= or +=) the rounded rows · Wᵀ: `multiplyPacked`'s BF16 compute
    /// on rows rounded once (the same bits).
    func multiplyRounded(_ x: RoundedRows, rows m: Int, into out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        guard case .packedBF16(let p, true) = storage else { preconditionFailure("multiplyRounded on \(storage)") }
        let n = rows, k = cols, pairs = (k + 1) / 2 * 2
        MatMul.split(m: m, n: n, k: k) { r, c in
            scorek_gemm_packed_bf16_pairs(r.count, c.count, k, x.words + r.lowerBound * x.stride, x.stride,
                                          p + c.lowerBound * pairs, out + r.lowerBound * ldo + c.lowerBound, ldo,
                                          accumulate ? 1 : 0)
        }
    }

    /// Rows of activations as BF16 pairs (`scorek_round_pairs`).
    final class RoundedRows {
        let words: UnsafeMutablePointer<UInt32>
        let stride: Int
        init(rows: Int, cols: Int) {
            stride = (cols + 1) / 2
            words = .allocate(capacity: max(1, rows * stride))
        }
        deinit { words.deallocate() }
    }

    /// Batches up to this many rows take `multiply(group:)`'s single
    /// dispatch; larger ones have work enough per matrix.
    static let groupedRows = 64

    /// A row-major F32 copy (nil when the matrix already is one).
    func widenedCopy() -> FloatBuffer? {
        if case .f32 = storage { return nil }
        let buffer = FloatBuffer(count: rows * cols, zeroed: false)
        if case .bf16(let p) = storage {
            BF16.widen(p, into: buffer.pointer, count: rows * cols)
        } else {
            for r in 0..<rows { copyRow(r, to: buffer.pointer + r * cols) }
        }
        return buffer
    }
}
