#if canImport(Glibc)
import Glibc
#endif
import Testing
import CKernels
import SCoReRuntime

@Suite struct KernelTests {
    @Test func vectorExpMatchesLibm() {
        var worst: Double = 0
        var x: Float = -86.4
        while x < 88.7 {
            let got = Double(VectorMath.exp(x))
            let want = Foundation_exp(Double(x))
            worst = max(worst, abs(got - want) / want)
            x += 0.0137
        }
        #expect(worst < 3e-7, "max relative error \(worst)")
        #expect(VectorMath.exp(-200) == 0)
        #expect(VectorMath.exp(-Float.infinity) == 0)
        #expect(VectorMath.exp(200) == .infinity)
        #expect(VectorMath.exp(Float.nan).isNaN)
        #expect(VectorMath.exp(0) == 1)
    }

    /// The C loops (vmath.c) give, on every kernel path, the bits of the
    /// Swift formula they replace: exp lane by lane, the 16 running sums,
    /// SwiGLU forward and backward, specials (±∞, NaN, the clamps) included.
    @Test func cElementwiseLoopsEqualTheSwiftFormula() throws {
        var x = MatMulTests.random(16 * 40, seed: 9).enumerated().map { i, v in v * Float(1 + i % 7) * 13 }
        let specials: [Float] = [.nan, .infinity, -.infinity, 88.72283, 88.73, -86.5, -86.51, 0, -0.0, 1e-30, -1e-30, 200, -200, 80, -80, 0.5]
        for (i, v) in specials.enumerated() { x[i * 3] = v }
        let up = MatMulTests.random(x.count, seed: 10), dout = MatMulTests.random(x.count, seed: 11)
        let blocks = x.count / 16, shift: Float = 0.75, scale: Float = -1.5
        // The Swift formulas, 16 lanes at a time.
        var wantExp = x, wantLanes = VectorMath.V(repeating: 0), wantScaled = x
        var wantSwiGLU = x, wantDGate = x, wantDUp = x
        for b in 0..<blocks {
            let v = VectorMath.load(x.withUnsafeBufferPointer { $0.baseAddress! } + 16 * b)
            let u = VectorMath.load(up.withUnsafeBufferPointer { $0.baseAddress! } + 16 * b)
            let d = VectorMath.load(dout.withUnsafeBufferPointer { $0.baseAddress! } + 16 * b)
            let e = VectorMath.exp(v - VectorMath.V(repeating: shift))
            let one = VectorMath.V(repeating: 1)
            let s = one / (one + VectorMath.exp(-v))
            let swiglu = v / (one + VectorMath.exp(-v)) * u
            wantLanes += e
            for l in 0..<16 {
                wantExp[16 * b + l] = e[l]
                wantScaled[16 * b + l] = scale * VectorMath.exp(v - VectorMath.V(repeating: shift))[l]
                wantSwiGLU[16 * b + l] = swiglu[l]
                wantDUp[16 * b + l] = (d * v * s)[l]
                wantDGate[16 * b + l] = (d * u * s * (one + v * (one - s)))[l]
            }
        }
        // Equal bits, or both NaN (a NaN's sign follows the operand order
        // the compiler chose for a commutative operation).
        func differences(_ a: [Float], _ b: [Float]) -> Int {
            zip(a, b).filter { $0.bitPattern != $1.bitPattern && !($0.isNaN && $1.isNaN) }.count
        }
        let saved = KernelPath.active
        defer { try? KernelPath.use(saved) }
        for path in KernelPath.allCases where path.isSupported {
            try KernelPath.use(path)
            var out = [Float](repeating: 0, count: x.count), lanes = [Float](repeating: 0, count: 16)
            scorek_exp_shifted(x, &out, blocks, shift, &lanes)
            #expect(differences(out, wantExp) == 0, "\(path.name): exp")
            #expect(differences(lanes, (0..<16).map { wantLanes[$0] }) == 0, "\(path.name): lane sums")
            var z = x
            scorek_scaled_exp_shifted(&z, blocks, shift, scale)
            #expect(differences(z, wantScaled) == 0, "\(path.name): scaled exp")
            scorek_swiglu(&out, x, up, blocks)
            #expect(differences(out, wantSwiGLU) == 0, "\(path.name): swiglu")
            var dgate = dout, dup = out
            scorek_swiglu_backward(&dgate, &dup, dgate, x, up, blocks)  // dout aliases dgate, as the trainer calls it
            #expect(differences(dup, wantDUp) == 0, "\(path.name): swiglu dup")
            #expect(differences(dgate, wantDGate) == 0, "\(path.name): swiglu dgate")
            #expect(wantExp.contains { $0.isNaN } && wantExp.contains { $0 == .infinity } && wantExp.contains { $0 == 0 })
        }
    }

    @Test func softmaxAndLogSumExp() {
        for count in [1, 5, 16, 17, 100, 1000] {
            var x = (0..<count).map { Float(($0 * 37) % 23) * 0.7 - 5 }
            let want = Foundation_log(x.map { Foundation_exp(Double($0)) }.reduce(0, +))
            let lse = x.withUnsafeBufferPointer { Softmax.logSumExp($0.baseAddress!, count: count) }
            #expect(abs(Double(lse) - want) < 1e-5)
            x.withUnsafeMutableBufferPointer { Softmax.inPlace($0.baseAddress!, count: count) }
            #expect(abs(x.reduce(0, +) - 1) < 1e-5)
        }
    }

    @Test func swigluMatchesDefinition() {
        let n = 37
        let gate = (0..<n).map { Float($0) * 0.5 - 9 }
        let up = (0..<n).map { Float($0 % 5) - 2 }
        var out = [Float](repeating: 0, count: n)
        gate.withUnsafeBufferPointer { g in up.withUnsafeBufferPointer { u in out.withUnsafeMutableBufferPointer { o in
            SwiGLU.forward(out: o.baseAddress!, gate: g.baseAddress!, up: u.baseAddress!, count: n)
        } } }
        for i in 0..<n {
            let g = Double(gate[i])
            let want = g / (1 + Foundation_exp(-g)) * Double(up[i])
            #expect(abs(Double(out[i]) - want) < 1e-5 * max(1, abs(want)))
        }
    }
}

// libm in Double, named apart from VectorMath.exp.
private func Foundation_exp(_ x: Double) -> Double { Glibc.exp(x) }
private func Foundation_log(_ x: Double) -> Double { Glibc.log(x) }

/// Reproducible test inputs in [-scale, scale], steps of scale / 1000 (an LCG).
struct LCGFloats {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func array(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000 * scale
        }
    }
}

@Suite struct ThreadPoolTests {
    /// Pools live for the process; tests share one.
    static let pool = ThreadPool(threads: 2)

    @Test func poolRunsEveryPartOnce() {
        let pool = Self.pool
        for parts in [1, 2, 3, 17, 1000] {
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: parts)
            counts.initialize(repeating: 0, count: parts)
            for _ in 0..<20 { pool.run(parts: parts) { counts[$0] += 1 } }
            #expect((0..<parts).allSatisfy { counts[$0] == 20 })
            counts.deallocate()
        }
        // A nested call runs inline instead of deadlocking.
        var inner = 0
        pool.run(parts: 1) { _ in pool.run(parts: 4) { _ in inner += 1 } }
        #expect(inner == 4)
    }
}

@Suite struct RMSNormTests {
    /// Rows normalised eight at a time (their sums of squares interleaved),
    /// spread over threads or not, equal each row normalised alone, bit for
    /// bit, and the definition (a running sum of x·x in order), within an ulp
    /// of rounding. Row counts around multiples of 8 cover the groups and the rest.
    @Test(arguments: [1, 7, 8, 9, 16, 17, 40, 203])
    func rowsInGroupsEqualRowsAlone(rows: Int) {
        for dim in [1, 64, 576] {
            var random = LCGFloats(seed: UInt64(rows * 1009 + dim))
            let x = random.array(rows * (dim + 3), scale: 3), w = random.array(dim, scale: 2)
            var together = [Float](repeating: .nan, count: rows * dim)
            var rstd = [Float](repeating: .nan, count: rows)
            RMSNorm.forward(out: &together, outStride: dim, x: x, xStride: dim + 3, weight: w, rstd: &rstd,
                            rows: rows, dim: dim, eps: 1e-5)
            var plain = [Float](repeating: .nan, count: rows * dim)
            RMSNorm.forward(out: &plain, outStride: dim, x: x, xStride: dim + 3, weight: w, rows: rows, dim: dim, eps: 1e-5)
            #expect(plain == together, "rows \(rows) dim \(dim): with and without rstd")
            var mismatches = 0
            for r in 0..<rows {
                var alone = [Float](repeating: .nan, count: dim)
                x.withUnsafeBufferPointer { xp in
                    RMSNorm.forward(out: &alone, outStride: dim, x: xp.baseAddress! + r * (dim + 3), xStride: dim + 3,
                                    weight: w, rows: 1, dim: dim, eps: 1e-5)
                }
                var sum: Float = 0
                for i in 0..<dim { sum += x[r * (dim + 3) + i] * x[r * (dim + 3) + i] }
                let scale = 1 / sqrtf(sum / Float(dim) + 1e-5)
                if Array(together[(r * dim)..<((r + 1) * dim)]) != alone || rstd[r] != scale { mismatches += 1 }
                for i in 0..<dim where alone[i] != w[i] * (x[r * (dim + 3) + i] * scale) { mismatches += 1 }
            }
            #expect(mismatches == 0, "rows \(rows) dim \(dim)")
        }
    }
}

@Suite struct DecodeAttentionTests {
    /// `Attention.singleQuery` equals, bit for bit, the plain definition it
    /// implements: each score a 16-lane FMA dot product summed lane by lane
    /// (`SIMD.sum()`; the last count % 4 keys a plain running sum), scaled,
    /// softmaxed, then Σ p_j · v_j in key order. Key
    /// counts around multiples of 16 cover the sixteen-key transposed path,
    /// the four-key path and the single keys after them; a head size that is
    /// not a multiple of 16 takes the four-key path only.
    @Test(arguments: [(1, 64), (15, 64), (16, 64), (17, 64), (37, 64), (64, 128), (21, 24), (130, 64), (200, 128)])
    func matchesDefinition(keys: Int, headDim D: Int) {
        typealias V = SIMD16<Float>
        let heads = 4, kvHeads = 2, kvStride = kvHeads * D
        var random = LCGFloats(seed: UInt64(keys * 131 + D))
        let q = random.array(heads * D, scale: 2)
        let k = random.array(keys * kvStride, scale: 2)
        let v = random.array(keys * kvStride, scale: 2)
        for h in 0..<heads {
            let g = h / (heads / kvHeads)
            var got = [Float](repeating: 0, count: D)
            var scratch = [Float](repeating: 0, count: Attention.scratchCount(queries: 1, keys: keys))
            q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
                got.withUnsafeMutableBufferPointer { o in scratch.withUnsafeMutableBufferPointer { s in
                    Attention.singleQuery(out: o.baseAddress!, q: qp.baseAddress! + h * D, k: kp.baseAddress!, v: vp.baseAddress!,
                                          position: keys - 1, head: h, heads: heads, kvHeads: kvHeads, headDim: D,
                                          rowStride: kvStride, headStride: D, slidingWindow: nil, scratch: s.baseAddress!)
                } }
            } } }
            // The KV cache's head-major layout (each head's positions contiguous) gives the same bits.
            func headMajor(_ m: [Float]) -> [Float] {
                var out = [Float]()
                for g in 0..<kvHeads { for j in 0..<keys { out += m[(j * kvStride + g * D)..<(j * kvStride + g * D + D)] } }
                return out
            }
            var gotHeadMajor = [Float](repeating: 0, count: D)
            q.withUnsafeBufferPointer { qp in headMajor(k).withUnsafeBufferPointer { kp in headMajor(v).withUnsafeBufferPointer { vp in
                gotHeadMajor.withUnsafeMutableBufferPointer { o in scratch.withUnsafeMutableBufferPointer { s in
                    Attention.singleQuery(out: o.baseAddress!, q: qp.baseAddress! + h * D, k: kp.baseAddress!, v: vp.baseAddress!,
                                          position: keys - 1, head: h, heads: heads, kvHeads: kvHeads, headDim: D,
                                          rowStride: D, headStride: keys * D, slidingWindow: nil, scratch: s.baseAddress!)
                } }
            } } }
            #expect(gotHeadMajor == got, "keys \(keys) head dim \(D) head \(h): head-major layout")
            let scale = 1 / sqrtf(Float(D))
            var p = (0..<keys).map { j -> Float in
                if j >= keys - keys % 4 {  // the last keys one at a time: a plain running sum
                    var s: Float = 0
                    for d in 0..<D { s += k[j * kvStride + g * D + d] * q[h * D + d] }
                    return s * scale
                }
                var acc = V(), d = 0
                while d + 16 <= D {
                    acc = acc.addingProduct(V(k[(j * kvStride + g * D + d)..<(j * kvStride + g * D + d + 16)]),
                                            V(q[(h * D + d)..<(h * D + d + 16)]))
                    d += 16
                }
                var s = acc.sum()
                while d < D { s += k[j * kvStride + g * D + d] * q[h * D + d]; d += 1 }
                return s * scale
            }
            p.withUnsafeMutableBufferPointer { Softmax.inPlace($0.baseAddress!, count: keys) }
            let want = (0..<D).map { d -> Float in
                // Whole 16-column chunks use FMAs, the last D % 16 columns a multiply then an add.
                var o: Float = 0
                let fused = d < D - D % 16
                for j in 0..<keys {
                    o = fused ? o.addingProduct(p[j], v[j * kvStride + g * D + d]) : o + p[j] * v[j * kvStride + g * D + d]
                }
                return o
            }
            #expect(got == want, "keys \(keys) head dim \(D) head \(h)")
        }
    }
}

@Suite struct PrefillAttentionTests {
    /// `Attention.forward` gives the same bits for every query block size
    /// (a block computes masked scores up to its last query's keys; they
    /// weigh exactly 0), and agrees with the plain definition within
    /// rounding. Covers a prompt after cached positions, a sliding window,
    /// grouped queries, one and two pool slots, and blocks that split the
    /// queries unevenly.
    @Test(arguments: [(1, 0, nil as Int?), (63, 0, nil), (64, 0, nil), (65, 7, nil), (200, 0, nil), (150, 30, 40), (97, 0, 16)])
    func blockSizesAgree(queries T: Int, start: Int, window: Int?) {
        let heads = 6, kvHeads = 2, D = 32, Q = heads * D, keys = start + T
        var random = LCGFloats(seed: UInt64(T * 31 + start))
        let q = random.array(T * Q, scale: 2)
        // Head-major cache as in inference: group g's position j at g·keys·D + j·D.
        let k = random.array(kvHeads * keys * D, scale: 2)
        let v = random.array(kvHeads * keys * D, scale: 2)
        func run(block: Int, slots: Int) -> [Float] {
            var out = [Float](repeating: .nan, count: T * Q)
            var scratch = [Float](repeating: 0, count: slots * Attention.scratchCount(queries: T, keys: keys, queryBlock: block))
            q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
                out.withUnsafeMutableBufferPointer { o in scratch.withUnsafeMutableBufferPointer { s in
                    Attention.forward(out: o.baseAddress!, q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!,
                                      queries: T, start: start, heads: heads, kvHeads: kvHeads, headDim: D,
                                      rowStride: D, headStride: keys * D, slidingWindow: window,
                                      scratch: s.baseAddress!, scratchSlots: slots, queryBlock: block)
                } }
            } } }
            return out
        }
        let reference = run(block: 256, slots: 1)
        for (block, slots) in [(64, 2), (17, 1), (1, 2), (Attention.queryBlock, 2)] {
            #expect(run(block: block, slots: slots) == reference, "T \(T) start \(start) window \(String(describing: window)): block \(block)")
        }
        var worst: Double = 0
        for t in 0..<T {
            let position = start + t
            let first = window.map { max(0, position - $0 + 1) } ?? 0
            for h in 0..<heads {
                let g = h / (heads / kvHeads)
                let scores = (first...position).map { j -> Double in
                    var s = 0.0
                    for d in 0..<D { s += Double(q[t * Q + h * D + d]) * Double(k[(g * keys + j) * D + d]) }
                    return s / Double(D).squareRoot()
                }
                let top = scores.max()!
                let weights = scores.map { Glibc.exp($0 - top) }
                let total = weights.reduce(0, +)
                for d in 0..<D {
                    var o = 0.0
                    for (i, j) in (first...position).enumerated() { o += weights[i] / total * Double(v[(g * keys + j) * D + d]) }
                    worst = max(worst, abs(o - Double(reference[t * Q + h * D + d])))
                }
            }
        }
        #expect(worst < 1e-5, "T \(T): max |Δ| \(worst) against the definition")
    }
}
