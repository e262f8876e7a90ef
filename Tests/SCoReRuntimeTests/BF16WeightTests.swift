import Testing
import SCoReRuntime

/// BF16 matrices kept as BF16 must compute exactly what their F32 widening
/// computes: widening is exact and both paths sum in the same order.
@Suite struct BF16WeightTests {
    static let pool = ThreadPool(threads: 2)

    /// Random BF16 bit patterns of finite values, and their F32 widening.
    static func randomMatrix(_ count: Int, seed: UInt64) -> ([BF16], [Float]) {
        var s = seed
        var halves: [BF16] = []
        for _ in 0..<count {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let f = Float(Int64(bitPattern: s >> 11) % 2001 - 1000) / 997
            halves.append(BF16(bits: UInt16(truncatingIfNeeded: f.bitPattern >> 16)))
        }
        return (halves, halves.map { Float(bitPattern: UInt32($0.bits) << 16) })
    }

    @Test func widenIsExact() {
        let (halves, floats) = Self.randomMatrix(1003, seed: 5)
        var out = [Float](repeating: .nan, count: halves.count)
        halves.withUnsafeBufferPointer { h in
            out.withUnsafeMutableBufferPointer { BF16.widen(h.baseAddress!, into: $0.baseAddress!, count: h.count) }
        }
        #expect(out == floats)
        // Special values keep their meaning.
        let specials: [Float] = [0, -0.0, .infinity, -.infinity, 1, -2.5, .leastNormalMagnitude]
        for f in specials {
            var b = BF16(bits: UInt16(f.bitPattern >> 16))
            #expect(withUnsafePointer(to: &b) { BF16.widen($0) } == f)
        }
    }

    /// Every storage of a matrix multiplies to the same bits under F32
    /// compute (BF16 widens exactly; every product sums in one order), each
    /// activation row's result is the same alone or in a batch, and all agree
    /// with OpenBLAS on the widened values (odd n, k not a multiple of a
    /// panel, strides, accumulate on and off).
    @Test(arguments: [(1, 7, 5), (1, 130, 576), (3, 130, 33), (4, 9, 16), (16, 37, 100), (24, 203, 64), (7, 20, 200), (20, 3000, 700), (70, 64, 31),
                      (70, 4200, 300)])  // taller than a decoding batch, panels beyond L2: column blocks
    func everyStorageGivesTheSameBits(m: Int, n: Int, k: Int) {
        let ldx = k + 3, ldo = n + 2
        let (halves, floats) = Self.randomMatrix(n * k, seed: UInt64(m * 1000 + n))
        let (_, x) = Self.randomMatrix(m * ldx, seed: 77)
        halves.withUnsafeBufferPointer { h in
            floats.withUnsafeBufferPointer { f in
                let rowMajorF32 = WeightMatrix(f32: f.baseAddress!, rows: n, cols: k)
                let rowMajorBF16 = WeightMatrix(.bf16(h.baseAddress!), rows: n, cols: k)
                let packedF32 = rowMajorF32.packed(compute: .f32), packedBF16 = rowMajorBF16.packed(compute: .f32)
                let storages = [("f32", rowMajorF32), ("bf16", rowMajorBF16), ("packed f32", packedF32.matrix),
                                ("packed bf16", packedBF16.matrix)]
                func run(_ w: WeightMatrix, rows: Range<Int>, accumulate: Bool) -> [Float] {
                    var out = [Float](repeating: 0.5, count: rows.count * ldo)
                    x.withUnsafeBufferPointer { xp in
                        out.withUnsafeMutableBufferPointer { o in
                            w.multiply(xp.baseAddress! + rows.lowerBound * ldx, rows: rows.count, ldx: ldx,
                                       into: o.baseAddress!, ldo: ldo, accumulate: accumulate)
                        }
                    }
                    return out
                }
                for accumulate in [false, true] {
                    var want = [Float](repeating: 0.5, count: m * ldo)
                    x.withUnsafeBufferPointer { xp in
                        want.withUnsafeMutableBufferPointer { o in
                            BLAS.matmulTransposedB(m: m, n: n, k: k, a: xp.baseAddress!, lda: ldx, b: f.baseAddress!, ldb: k,
                                                   c: o.baseAddress!, ldc: ldo, beta: accumulate ? 1 : 0)
                        }
                    }
                    let first = run(rowMajorF32, rows: 0..<m, accumulate: accumulate)
                    #expect(maxAbsDiff(first, want) < 1e-5 * Float(k), "m \(m) n \(n) k \(k) accumulate \(accumulate)")
                    for (name, w) in storages {
                        let got = run(w, rows: 0..<m, accumulate: accumulate)
                        #expect(got.map(\.bitPattern) == first.map(\.bitPattern), "\(name): m \(m) n \(n) k \(k)")
                        for i in Set([0, m / 2, m - 1]) {
                            let alone = run(w, rows: i..<(i + 1), accumulate: accumulate)
                            #expect(Array(got[(i * ldo)..<(i * ldo + n)]) == Array(alone[0..<n]), "\(name): row \(i) of \(m)")
                        }
                        // Rows read back from any storage are the widened values.
                        var row = [Float](repeating: 0, count: k)
                        w.copyRow(n - 1, to: &row)
                        #expect(row == Array(floats[((n - 1) * k)..<(n * k)]), "\(name): row \(n - 1)")
                    }
                }
            }
        }
    }

    /// Projections of one input multiplied as a group (one pool dispatch,
    /// panels dealt over the threads across matrix boundaries) give each
    /// matrix the bits of its own `multiply`, for every packed storage and
    /// compute mode, panel tails included, below and above `groupedRows`.
    @Test(arguments: [1, 5, 64, 65])
    func groupedMultiplyEqualsOneCallEach(m: Int) {
        let k = 130, shapes = [40, 7, 96, 33]
        let x = MatMulTests.random(m * k, seed: 3)
        for (storage, compute) in [("f32", ComputeMode.f32), ("bf16", .f32), ("bf16", .bf16)] {
            let sources = shapes.enumerated().map { i, n in Self.randomMatrix(n * k, seed: UInt64(40 + i)) }
            var owners: [PackedMatrix] = []
            sources.enumerated().forEach { i, source in
                source.0.withUnsafeBufferPointer { h in
                    source.1.withUnsafeBufferPointer { f in
                        let w = storage == "f32" ? WeightMatrix(f32: f.baseAddress!, rows: shapes[i], cols: k)
                                                 : WeightMatrix(.bf16(h.baseAddress!), rows: shapes[i], cols: k)
                        owners.append(w.packed(compute: compute))
                    }
                }
            }
            var alone: [[Float]] = []
            for w in owners {
                var out = [Float](repeating: 0, count: m * w.matrix.rows)
                w.matrix.multiply(x, rows: m, ldx: k, into: &out, ldo: w.matrix.rows, accumulate: false)
                alone.append(out)
            }
            let outs = owners.map { UnsafeMutablePointer<Float>.allocate(capacity: m * $0.matrix.rows) }
            defer { outs.forEach { $0.deallocate() } }
            x.withUnsafeBufferPointer { xp in
                WeightMatrix.multiply(group: zip(owners, outs).map { ($0.matrix, $1) }, xp.baseAddress!, rows: m, ldx: k)
            }
            for (i, w) in owners.enumerated() {
                let got = Array(UnsafeBufferPointer(start: outs[i], count: m * w.matrix.rows))
                #expect(got.map(\.bitPattern) == alone[i].map(\.bitPattern), "\(storage) \(compute) m \(m): matrix \(i)")
            }
        }
    }

    /// BF16 compute (activations rounded to BF16, vdpbf16ps where the CPU
    /// has it) stays within BF16 rounding of F32 compute, and its emulation
    /// on every other kernel path gives the same bits as the reference's.
    @Test(arguments: [(20, 70, 601), (70, 4200, 300)])  // the second: column blocks (gemm.c, n_block)
    func bf16ComputeIsCloseToF32(m: Int, n: Int, k: Int) throws {
        let (halves, _) = Self.randomMatrix(n * k, seed: 11)
        let x = MatMulTests.random(m * k, seed: 12)  // not BF16 values: rounding them matters
        try halves.withUnsafeBufferPointer { h in
            let w = WeightMatrix(.bf16(h.baseAddress!), rows: n, cols: k)
            let exact = w.packed(compute: .f32), rounded = w.packed(compute: .bf16)
            var f32 = [Float](repeating: 0, count: m * n), bf16 = f32
            exact.matrix.multiply(x, rows: m, ldx: k, into: &f32, ldo: n, accumulate: false)
            var emulated: [Float]? = nil
            let saved = KernelPath.active
            defer { try? KernelPath.use(saved) }
            for path in KernelPath.allCases where path.isSupported {
                try KernelPath.use(path)
                rounded.matrix.multiply(x, rows: m, ldx: k, into: &bf16, ldo: n, accumulate: false)
                // |x| <= 1 rounds with relative error 2^-9; sums of k products of |w| <= 1.
                #expect(maxAbsDiff(bf16, f32) < Float(k) * 0.004, "\(path.name)")
                #expect(maxAbsDiff(bf16, f32) > 0, "\(path.name): activations were not rounded")
                if path != .avx512bf16 {
                    if let emulated { #expect(maxAbsDiff(bf16, emulated) == 0, "\(path.name)") } else { emulated = bf16 }
                }
                // A row alone (one tile, k in one run) equals its row in the
                // batch (two tiles over k in chunks).
                for i in [0, m - 1] {
                    var alone = [Float](repeating: 0, count: n)
                    Array(x[(i * k)..<((i + 1) * k)]).withUnsafeBufferPointer {
                        rounded.matrix.multiply($0.baseAddress!, rows: 1, ldx: k, into: &alone, ldo: n, accumulate: false)
                    }
                    #expect(alone == Array(bf16[(i * n)..<((i + 1) * n)]), "\(path.name): row \(i) of \(m)")
                }
            }
        }
    }

    /// A BF16 checkpoint loaded as BF16 gives exactly the logits of the same
    /// checkpoint widened at load, in about half the memory; training (F32)
    /// works from it.
    @Test func bf16ResidentModelEqualsWidenedModel() throws {
        let dir = Fixtures.model("qwen2-bf16")
        let resident = try Model.load(directory: dir)
        let widened = try Model.load(directory: dir, options: LoadOptions(keepBF16: false))
        #expect(resident.weights.keepsBF16)
        #expect(!widened.weights.keepsBF16)
        #expect(resident.bytesInMemory * 3 < widened.bytesInMemory * 2)
        let vocab = Int32(resident.config.vocabSize)
        for length in [5, 60] {
            let tokens = (0..<length).map { Int32(($0 * 37 + 11) % Int(vocab)) }
            let a = try resident.allLogits(tokens: tokens), b = try widened.allLogits(tokens: tokens)
            #expect(a == b, "length \(length)")
            #expect(try resident.logProbs(tokens: tokens) == widened.logProbs(tokens: tokens), "length \(length)")
        }
        let trainable = try TrainableModel(model: resident, parameters: .full)
        let tokens: [Int32] = [3, 9, 27, 81, 5, 15]
        let sequence = TrainingSequence(tokens: tokens, mask: [0, 0, 1, 1, 1, 1])
        let reference = try trainable.referenceLogProbs([sequence])[0]
        let scored = try widened.logProbs(tokens: tokens)
        for t in 2..<tokens.count {
            #expect(abs(reference[t] - scored[t - 1]) < 1e-4, "position \(t)")
        }
    }
}
