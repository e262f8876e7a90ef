import CBLAS

/// Thin wrappers over OpenBLAS. All matrices are row-major F32.
///
/// OpenBLAS runs single-threaded; a large product is split into one slab
/// of output columns (or rows) per thread of our pool, each slab one
/// sgemm call. With OpenBLAS's own threads next to ours, a 2-core machine
/// ran three busy threads: each side's idle workers spun and yielded while
/// the other computed, and every switch between our kernels and a product
/// cost a hand-over. One set of threads does all the work instead.
public enum BLAS {
    /// C[m×n] = alpha · A[m×k] · B[n×k]ᵀ + beta · C.
    /// This is `x · Wᵀ` for a weight W stored [out × in] as Hugging Face does.
    @inline(__always)
    public static func matmulTransposedB(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        split(m: m, n: n, k: k) { rows, cols in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows.count), Int32(cols.count), Int32(k),
                        alpha, a + rows.lowerBound * lda, Int32(lda), b + cols.lowerBound * ldb, Int32(ldb),
                        beta, c + rows.lowerBound * ldc + cols.lowerBound, Int32(ldc))
        }
    }

    /// C[m×n] = alpha · A[m×k] · B[k×n] + beta · C.
    @inline(__always)
    public static func matmul(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        split(m: m, n: n, k: k) { rows, cols in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows.count), Int32(cols.count), Int32(k),
                        alpha, a + rows.lowerBound * lda, Int32(lda), b + cols.lowerBound, Int32(ldb),
                        beta, c + rows.lowerBound * ldc + cols.lowerBound, Int32(ldc))
        }
    }

    /// C[m×n] = alpha · A[k×m]ᵀ · B[k×n] + beta · C.
    /// This is the weight gradient `dYᵀ · X` of a projection (rows summed over).
    @inline(__always)
    public static func matmulTransposedA(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        split(m: m, n: n, k: k) { rows, cols in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows.count), Int32(cols.count), Int32(k),
                        alpha, a + rows.lowerBound, Int32(lda), b + cols.lowerBound, Int32(ldb),
                        beta, c + rows.lowerBound * ldc + cols.lowerBound, Int32(ldc))
        }
    }

    /// Products smaller than this many multiply-adds run on the calling thread.
    static let parallelWork = 1 << 20

    /// Calls body(rows, cols) over slabs of the m × n output, one per pool
    /// thread, cut across the longer side. Each slab's sgemm packs its own
    /// copy of the operand that spans the slab: the rows of A for a column
    /// slab, the columns of B for a row slab. Cutting the longer side copies
    /// the smaller operand twice (a projection over 2,048 tokens: the
    /// 576 × 576 weight rather than the 2,048 × 576 activations). Slab edges
    /// fall on multiples of 16 so every slab keeps sgemm's full-width kernels.
    @inline(__always)
    static func split(m: Int, n: Int, k: Int, _ body: (Range<Int>, Range<Int>) -> Void) {
        let pool = ThreadPool.shared
        let threads = pool.threads
        guard threads > 1, m * n * k >= parallelWork, max(m, n) >= 32 * threads else {
            body(0..<m, 0..<n)
            return
        }
        let byColumns = n >= 32 * threads && (n >= m || m < 32 * threads)
        let extent = byColumns ? n : m
        let slab = ((extent + threads - 1) / threads + 15) / 16 * 16
        let parts = (extent + slab - 1) / slab
        pool.run(parts: parts) { p in
            let range = (p * slab)..<min(extent, (p + 1) * slab)
            if byColumns { body(0..<m, range) } else { body(range, 0..<n) }
        }
    }

    /// Threads our products use (the shared pool's; OpenBLAS itself runs one).
    public static var threadCount: Int { ThreadPool.shared.threads }

    /// Readies OpenBLAS once, before the first product (the shared pool's
    /// creation does it): the kernels of this CPU's tier (`OpenBLASCore`),
    /// one thread (the pool splits the work instead).
    public static let prepare: Void = {
        _ = OpenBLASCore.choice
        openblas_set_num_threads(1)
    }()

    /// Cores OpenBLAS detected at start-up.
    public static var coreCount: Int { Int(openblas_get_num_procs()) }
}
