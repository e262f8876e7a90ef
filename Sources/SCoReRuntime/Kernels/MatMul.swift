import CKernels

/// Every matrix product of the library, inference and training alike: one
/// entry point over our own kernels (`Sources/CKernels/gemm`), whose path
/// (`KernelPath`) cpuid picks at load.
///
/// Each output element is summed over k in order, one fused multiply-add
/// at a time: every kernel path, tile shape and thread split gives the same
/// bits, and a row's result never depends on the rows computed with it (a
/// sequence samples the same tokens alone or in a batch of a hundred).
///
/// All matrices are row-major F32. `beta` is 0 (C is overwritten) or 1 (C
/// is added to).
public enum MatMul {
    /// C[m×n] = alpha · A[m×k] · B[n×k]ᵀ + beta · C: `x · Wᵀ` for a weight
    /// W stored [out × in] as Hugging Face does.
    @inline(__always)
    public static func matmulTransposedB(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        product(m: m, n: n, k: k, a: a, rowStrideA: lda, colStrideA: 1, b: b, rowStrideB: 1, colStrideB: ldb,
                c: c, ldc: ldc, alpha: alpha, beta: beta)
    }

    /// C[m×n] = alpha · A[m×k] · B[k×n] + beta · C: `dY · W`, the input
    /// gradient of a projection.
    @inline(__always)
    public static func matmul(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        product(m: m, n: n, k: k, a: a, rowStrideA: lda, colStrideA: 1, b: b, rowStrideB: ldb, colStrideB: 1,
                c: c, ldc: ldc, alpha: alpha, beta: beta)
    }

    /// C[m×n] = alpha · A[k×m]ᵀ · B[k×n] + beta · C: `dYᵀ · X`, the weight
    /// gradient of a projection (rows summed over).
    @inline(__always)
    public static func matmulTransposedA(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        product(m: m, n: n, k: k, a: a, rowStrideA: 1, colStrideA: lda, b: b, rowStrideB: ldb, colStrideB: 1,
                c: c, ldc: ldc, alpha: alpha, beta: beta)
    }

    /// C = alpha · A·B + beta · C with A(i, p) = a[i·rowStrideA + p·colStrideA]
    /// and B(p, j) = b[p·rowStrideB + j·colStrideB]. alpha ≠ 1 scales the
    /// finished sum (a separate product when C is added to).
    public static func product(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, rowStrideA: Int, colStrideA: Int,
        b: UnsafePointer<Float>, rowStrideB: Int, colStrideB: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        precondition(beta == 0 || beta == 1, "MatMul: beta must be 0 or 1")
        guard m > 0, n > 0 else { return }
        _ = KernelPath.prepare
        if alpha != 1 && beta != 0 {
            let sum = FloatBuffer(count: m * n, zeroed: false)
            product(m: m, n: n, k: k, a: a, rowStrideA: rowStrideA, colStrideA: colStrideA,
                    b: b, rowStrideB: rowStrideB, colStrideB: colStrideB, c: sum.pointer, ldc: n)
            for i in 0..<m {
                let row = c + i * ldc, s = sum.pointer + i * n
                for j in 0..<n { row[j] += alpha * s[j] }
            }
            return
        }
        if colStrideA == 1, let packed = sharedPanels(m: m, n: n, k: k, b: b, rowStrideB: rowStrideB, colStrideB: colStrideB) {
            split(m: m, n: n, k: k) { rows, cols in
                scorek_gemm_packed_f32(rows.count, cols.count, k, a + rows.lowerBound * rowStrideA, rowStrideA,
                                       packed.pointer + cols.lowerBound * k, c + rows.lowerBound * ldc + cols.lowerBound, ldc,
                                       beta == 0 ? 0 : 1)
            }
        } else {
            split(m: m, n: n, k: k) { rows, cols in
                scorek_gemm_f32(rows.count, cols.count, k,
                                a + rows.lowerBound * rowStrideA, rowStrideA, colStrideA,
                                b + cols.lowerBound * colStrideB, rowStrideB, colStrideB,
                                c + rows.lowerBound * ldc + cols.lowerBound, ldc, beta == 0 ? 0 : 1)
            }
        }
        if alpha != 1 {
            for i in 0..<m {
                let row = c + i * ldc
                for j in 0..<n { row[j] *= alpha }
            }
        }
    }

    /// B packed once for the whole product, the threads sharing the work,
    /// when `split` would cut the rows: each row slab would otherwise pack
    /// all of B for itself (a training step's forward and input-gradient
    /// products, 3-4% of the step in copies). nil when the columns are cut
    /// (each slab packs only its own), the product runs on one thread or
    /// the panels would exceed `sharedPanelFloats`.
    /// The panels hold the same values in the same order: same bits.
    static func sharedPanels(m: Int, n: Int, k: Int, b: UnsafePointer<Float>,
                             rowStrideB: Int, colStrideB: Int) -> FloatBuffer? {
        let pool = ThreadPool.shared, panel = Int(SCOREK_PANEL)
        guard k > 0, pool.threads > 1, m * n * k >= parallelWork, m >= panel * pool.threads,
              !splitsColumns(m: m, n: n, threads: pool.threads),
              scorek_packed_f32_size(n, k) <= sharedPanelFloats else { return nil }
        let panels = (n + panel - 1) / panel
        let packed = FloatBuffer(count: scorek_packed_f32_size(n, k), zeroed: false)
        let parts = min(pool.threads, panels)
        pool.run(parts: parts) { part in
            let first = panels * part / parts, last = panels * (part + 1) / parts
            guard first < last else { return }
            scorek_pack_b_f32(min(n, last * panel) - first * panel, k, b + first * panel * colStrideB, rowStrideB, colStrideB,
                              packed.pointer + first * panel * k)
        }
        return packed
    }

    /// 16 MB of panels at most (a small model's layer; a 7B model's MLP
    /// weight would be 180 MB): larger products pack block by block.
    static let sharedPanelFloats = 1 << 22

    @inline(__always)
    static func splitsColumns(m: Int, n: Int, threads: Int) -> Bool {
        let panel = Int(SCOREK_PANEL)
        return n >= panel * threads && (n >= m || m < panel * threads)
    }

    /// Products smaller than this many multiply-adds run on the calling thread.
    static let parallelWork = 1 << 20

    /// Calls body(rows, cols) over slabs of the m × n output, one per pool
    /// thread, cut across the longer side. Each slab packs its own copy of
    /// the B panels it reads, so cutting the longer side copies the smaller
    /// operand twice. Column slabs start on panel boundaries (32 columns):
    /// a packed weight's slab is then whole panels.
    ///
    /// `work` is what decides whether threads pay (default m·n·k multiply-
    /// adds); a decoding step on packed weights counts each weight it reads
    /// as several (it is bound by memory, not arithmetic).
    @inline(__always)
    static func split(m: Int, n: Int, k: Int, work: Int? = nil, _ body: (Range<Int>, Range<Int>) -> Void) {
        let pool = ThreadPool.shared
        let threads = pool.threads
        let panel = Int(SCOREK_PANEL)
        guard threads > 1, (work ?? m * n * k) >= parallelWork, max(m, n) >= panel * threads else {
            body(0..<m, 0..<n)
            return
        }
        let byColumns = splitsColumns(m: m, n: n, threads: threads)
        let extent = byColumns ? n : m
        let slab = ((extent + threads - 1) / threads + panel - 1) / panel * panel
        let parts = (extent + slab - 1) / slab
        pool.run(parts: parts) { p in
            let range = (p * slab)..<min(extent, (p + 1) * slab)
            if byColumns { body(0..<m, range) } else { body(range, 0..<n) }
        }
    }
}
