import CBLAS

/// OpenBLAS, the reference our kernels are tested against (`MatMul` runs
/// the library's products) and the peak `score-cli bench-gemm` reports.
/// All matrices are row-major F32; the three forms are MatMul's.
///
/// OpenBLAS runs single-threaded; a large product is split into one slab
/// per thread of our pool (`MatMul.split`), each slab one sgemm call, so a
/// 2-core machine never runs OpenBLAS's threads next to ours.
public enum BLAS {
    /// C[m×n] = alpha · A[m×k] · B[n×k]ᵀ + beta · C.
    public static func matmulTransposedB(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                         b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                                         alpha: Float = 1, beta: Float = 0) {
        sgemm(transA: false, transB: true, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, alpha: alpha, beta: beta)
    }

    /// C[m×n] = alpha · A[m×k] · B[k×n] + beta · C.
    public static func matmul(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                              b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                              alpha: Float = 1, beta: Float = 0) {
        sgemm(transA: false, transB: false, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, alpha: alpha, beta: beta)
    }

    /// C[m×n] = alpha · A[k×m]ᵀ · B[k×n] + beta · C.
    public static func matmulTransposedA(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                         b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                                         alpha: Float = 1, beta: Float = 0) {
        sgemm(transA: true, transB: false, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, alpha: alpha, beta: beta)
    }

    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float) {
        _ = prepare
        MatMul.split(m: m, n: n, k: k) { rows, cols in
            // A slab of rows starts row r of A (column r of Aᵀ); a slab of columns, column j of B (row j of Bᵀ).
            let aStart = transA ? rows.lowerBound : rows.lowerBound * lda
            let bStart = transB ? cols.lowerBound * ldb : cols.lowerBound
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(rows.count), Int32(cols.count), Int32(k), alpha, a + aStart, Int32(lda),
                        b + bStart, Int32(ldb), beta, c + rows.lowerBound * ldc + cols.lowerBound, Int32(ldc))
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
