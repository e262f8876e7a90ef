import Testing
import SCoReRuntime

/// Our matrix kernels against OpenBLAS (the reference), and the contract
/// that makes them testable: every F32 kernel path sums each element over
/// k in the same order, so all paths, tile shapes and thread splits give
/// the same bits.
@Suite(.serialized) struct MatMulTests {
    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<count).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2001 - 1000) / 1000
        }
    }

    enum Form: CaseIterable { case transposedB, plain, transposedA }

    /// C (= or +=) alpha · op(A)·op(B) on our kernels and on OpenBLAS.
    static func run(_ form: Form, m: Int, n: Int, k: Int, alpha: Float, accumulate: Bool, seed: UInt64,
                    openBLAS: Bool) -> [Float] {
        let a = random(m * k, seed: seed), b = random(n * k, seed: seed + 1)
        var c = random(m * n, seed: seed + 2)
        let beta: Float = accumulate ? 1 : 0
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    let (pa, pb, pc) = (a.baseAddress!, b.baseAddress!, c.baseAddress!)
                    switch (form, openBLAS) {
                    case (.transposedB, false):
                        MatMul.matmulTransposedB(m: m, n: n, k: k, a: pa, lda: k, b: pb, ldb: k, c: pc, ldc: n, alpha: alpha, beta: beta)
                    case (.transposedB, true):
                        BLAS.matmulTransposedB(m: m, n: n, k: k, a: pa, lda: k, b: pb, ldb: k, c: pc, ldc: n, alpha: alpha, beta: beta)
                    case (.plain, false):
                        MatMul.matmul(m: m, n: n, k: k, a: pa, lda: k, b: pb, ldb: n, c: pc, ldc: n, alpha: alpha, beta: beta)
                    case (.plain, true):
                        BLAS.matmul(m: m, n: n, k: k, a: pa, lda: k, b: pb, ldb: n, c: pc, ldc: n, alpha: alpha, beta: beta)
                    case (.transposedA, false):
                        MatMul.matmulTransposedA(m: m, n: n, k: k, a: pa, lda: m, b: pb, ldb: n, c: pc, ldc: n, alpha: alpha, beta: beta)
                    case (.transposedA, true):
                        BLAS.matmulTransposedA(m: m, n: n, k: k, a: pa, lda: m, b: pb, ldb: n, c: pc, ldc: n, alpha: alpha, beta: beta)
                    }
                }
            }
        }
        return c
    }

    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 37, 5), (3, 65, 300), (13, 33, 257), (17, 100, 513), (50, 70, 9), (130, 96, 64), (2, 1100, 40), (96, 512, 48),
    ]

    /// Runs `body` on every kernel path this CPU has, then restores the default.
    static func onEveryPath(_ body: (KernelPath) throws -> Void) rethrows {
        let saved = KernelPath.active
        defer { try? KernelPath.use(saved) }
        for path in KernelPath.allCases where path.isSupported {
            try? KernelPath.use(path)
            try body(path)
        }
    }

    @Test func agreesWithOpenBLAS() {
        for form in Form.allCases {
            for (i, (m, n, k)) in Self.shapes.enumerated() {
                for accumulate in [false, true] {
                    let alpha: Float = i % 3 == 2 ? 0.375 : 1
                    let theirs = Self.run(form, m: m, n: n, k: k, alpha: alpha, accumulate: accumulate, seed: UInt64(i), openBLAS: true)
                    Self.onEveryPath { path in
                        let ours = Self.run(form, m: m, n: n, k: k, alpha: alpha, accumulate: accumulate, seed: UInt64(i), openBLAS: false)
                        let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0
                        // Sums of k products of magnitude <= 1: rounding grows like sqrt(k) ulps of k.
                        #expect(worst <= 4e-6 * Float(k).squareRoot() * max(1, Float(k) / 64),
                                "\(path.name) \(form) \(m)x\(n)x\(k) accumulate \(accumulate): off by \(worst)")
                    }
                }
            }
        }
    }

    @Test func everyPathGivesTheSameBits() {
        for form in Form.allCases {
            for (i, (m, n, k)) in Self.shapes.enumerated() {
                for accumulate in [false, true] {
                    var first: [Float]? = nil
                    Self.onEveryPath { path in
                        let ours = Self.run(form, m: m, n: n, k: k, alpha: 1, accumulate: accumulate, seed: UInt64(i), openBLAS: false)
                        if let first {
                            #expect(ours.map(\.bitPattern) == first.map(\.bitPattern), "\(path.name) \(form) \(m)x\(n)x\(k)")
                        } else {
                            first = ours
                        }
                    }
                }
            }
        }
    }

    /// Row i of a product is the same computed alone or among other rows.
    @Test func aRowDoesNotDependOnItsBatch() {
        let (m, n, k) = (40, 300, 200)
        let x = Self.random(m * k, seed: 9), w = Self.random(n * k, seed: 10)
        var all = [Float](repeating: 0, count: m * n), one = [Float](repeating: 0, count: n)
        MatMul.matmulTransposedB(m: m, n: n, k: k, a: x, lda: k, b: w, ldb: k, c: &all, ldc: n)
        for i in [0, 7, 13, 39] {
            x.withUnsafeBufferPointer { x in
                MatMul.matmulTransposedB(m: 1, n: n, k: k, a: x.baseAddress! + i * k, lda: k, b: w, ldb: k, c: &one, ldc: n)
            }
            #expect(one.map(\.bitPattern) == all[(i * n)..<((i + 1) * n)].map(\.bitPattern))
        }
    }

    @Test func pathNamesAndSupport() throws {
        #expect(KernelPath.reference.isSupported)
        #expect(KernelPath.best.isSupported)
        for path in KernelPath.allCases { #expect(KernelPath(name: path.name) == path) }
        #expect(KernelPath(name: "sse9") == nil)
        for path in KernelPath.allCases where !path.isSupported {
            #expect(throws: ScoreError.self) { try KernelPath.use(path) }
        }
    }
}
