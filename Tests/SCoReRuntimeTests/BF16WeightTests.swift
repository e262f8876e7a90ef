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

    /// The skinny kernel on BF16 weights agrees with the same kernel on
    /// their F32 widening (it sums in another order), and each activation
    /// row's result is bit-identical whether it is multiplied alone or with
    /// others (odd n, k not a multiple of the step, strides).
    @Test(arguments: [(1, 7, 5), (1, 130, 576), (3, 130, 33), (4, 9, 16), (16, 37, 100), (24, 203, 64), (7, 20, 200), (20, 3000, 700)])
    func skinnyKernelOnBF16(m: Int, n: Int, k: Int) {
        let ldw = k + 1, ldx = k + 3, ldo = n + 2
        let (halves, floats) = Self.randomMatrix(n * ldw, seed: UInt64(m * 1000 + n))
        let (_, x) = Self.randomMatrix(m * ldx, seed: 77)
        func run<W: MatrixElement>(_ w: [W], rows: Range<Int>, accumulate: Bool) -> [Float] {
            var out = [Float](repeating: 0.5, count: rows.count * ldo)
            x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    out.withUnsafeMutableBufferPointer { o in
                        SkinnyMatmul.forward(m: rows.count, n: n, k: k, x: xp.baseAddress! + rows.lowerBound * ldx, ldx: ldx,
                                             w: wp.baseAddress!, ldw: ldw, out: o.baseAddress!, ldo: ldo,
                                             accumulate: accumulate, pool: Self.pool)
                    }
                }
            }
            return out
        }
        for accumulate in [false, true] {
            let got = run(halves, rows: 0..<m, accumulate: accumulate)
            let want = run(floats, rows: 0..<m, accumulate: accumulate)
            #expect(maxAbsDiff(got, want) < 1e-4 * Float(k).squareRoot(), "m \(m) n \(n) k \(k) accumulate \(accumulate)")
            for i in 0..<m {
                let alone = run(halves, rows: i..<(i + 1), accumulate: accumulate)
                #expect(Array(got[(i * ldo)..<(i * ldo + n)]) == Array(alone[0..<n]), "row \(i) of \(m)")
            }
        }
    }

    /// Many rows (prefill) widen BF16 blocks for sgemm: equal to sgemm on the
    /// F32 matrix, also for a row range (the scoring LM head) and across
    /// several widened blocks.
    @Test func manyRowsEqualSgemmOnWidened() {
        let m = 40, n = 300, k = 96
        let (halves, floats) = Self.randomMatrix(n * k, seed: 3)
        let (_, x) = Self.randomMatrix(m * k, seed: 4)
        halves.withUnsafeBufferPointer { h in
            floats.withUnsafeBufferPointer { f in
                x.withUnsafeBufferPointer { xp in
                    let bf = WeightMatrix(.bf16(h.baseAddress!), rows: n, cols: k)
                    let fp = WeightMatrix(f32: f.baseAddress!, rows: n, cols: k)
                    for range in [0..<n, 17..<250] {
                        var got = [Float](repeating: 1, count: m * range.count), want = got
                        got.withUnsafeMutableBufferPointer {
                            bf.multiply(xp.baseAddress!, rows: m, ldx: k, rowRange: range, into: $0.baseAddress!,
                                        ldo: range.count, accumulate: true)
                        }
                        want.withUnsafeMutableBufferPointer {
                            fp.multiply(xp.baseAddress!, rows: m, ldx: k, rowRange: range, into: $0.baseAddress!,
                                        ldo: range.count, accumulate: true)
                        }
                        #expect(got == want, "rows \(range)")
                    }
                }
            }
        }
    }

    /// A BF16 checkpoint loaded as BF16 gives the logits of the same
    /// checkpoint widened at load: exactly for a prefill-sized input (both
    /// sgemm on the same F32 values), to rounding for a decode-sized one
    /// (another summation order), in about half the memory; training (F32)
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
            if length > SkinnyMatmul.maxRows {
                #expect(a == b, "length \(length)")
                #expect(try resident.logProbs(tokens: tokens) == widened.logProbs(tokens: tokens), "length \(length)")
            } else {
                #expect(maxAbsDiff(a, b) < 1e-4, "length \(length)")
            }
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
