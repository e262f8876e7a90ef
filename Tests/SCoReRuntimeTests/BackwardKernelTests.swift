import Testing
import SCoReRuntime

/// Finite-difference checks of every backward kernel: for a random
/// cotangent c, L = Σ c ⊙ f(x) (summed in Double); the analytic gradient from
/// the backward must match (L(x + h·e_i) − L(x − h·e_i)) / 2h on sampled
/// coordinates within 2e-3 of the gradient's scale.
@Suite struct BackwardKernelTests {
    struct Random {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Double(state >> 11) * 0x1p-53) * 2 - 1
        }
        mutating func array(_ n: Int, scale: Float = 1, offset: Float = 0) -> [Float] { (0..<n).map { _ in offset + scale * next() } }
    }

    static func dot(_ a: UnsafePointer<Float>, _ b: [Float]) -> Double {
        var s: Double = 0
        for i in b.indices { s += Double(a[i]) * Double(b[i]) }
        return s
    }

    /// Compares `analytic` with central differences of `loss` w.r.t. x on up to `samples` coordinates.
    static func check(_ what: String, _ x: inout [Float], analytic: [Float], samples: Int = 40, h: Float = 1e-2,
                      tolerance: Double = 2e-3, loss: ([Float]) -> Double) {
        let scale = max(Double(analytic.map { abs($0) }.max() ?? 0), 1e-3)
        let step = max(1, x.count / samples)
        var worst = 0.0
        for i in stride(from: (x.count / 3) % step, to: x.count, by: step) {
            let saved = x[i]
            x[i] = saved + h
            let plus = loss(x)
            x[i] = saved - h
            let minus = loss(x)
            x[i] = saved
            let numeric = (plus - minus) / Double(2 * h)
            worst = max(worst, abs(numeric - Double(analytic[i])) / scale)
        }
        #expect(worst <= tolerance, "\(what): worst |numeric − analytic| / scale = \(worst)")
    }

    @Test func rmsNorm() {
        var rng = Random(state: 1)
        let rows = 5, dim = 24
        var x = rng.array(rows * dim), w = rng.array(dim, scale: 0.3, offset: 1)
        let c = rng.array(rows * dim)
        func f(_ x: [Float], _ w: [Float]) -> Double {
            var y = [Float](repeating: 0, count: rows * dim), r = [Float](repeating: 0, count: rows)
            RMSNorm.forward(out: &y, outStride: dim, x: x, xStride: dim, weight: w, rstd: &r, rows: rows, dim: dim, eps: 1e-5)
            return Self.dot(y, c)
        }
        var y = [Float](repeating: 0, count: rows * dim), r = [Float](repeating: 0, count: rows)
        RMSNorm.forward(out: &y, outStride: dim, x: x, xStride: dim, weight: w, rstd: &r, rows: rows, dim: dim, eps: 1e-5)
        var dx = [Float](repeating: 7, count: rows * dim), dw = [Float](repeating: 0, count: dim)
        RMSNorm.backward(dx: &dx, dxStride: dim, dweight: &dw, dy: c, dyStride: dim, x: x, xStride: dim, weight: w,
                         rstd: r, rows: rows, dim: dim, accumulate: false)
        Self.check("rmsnorm dx", &x, analytic: dx) { f($0, w) }
        Self.check("rmsnorm dw", &w, analytic: dw) { f(x, $0) }
        // accumulate adds on top of what is there
        var acc = [Float](repeating: 1, count: rows * dim)
        RMSNorm.backward(dx: &acc, dxStride: dim, dweight: nil, dy: c, dyStride: dim, x: x, xStride: dim, weight: w,
                         rstd: r, rows: rows, dim: dim, accumulate: true)
        #expect(maxAbsDiff(acc, dx.map { $0 + 1 }) <= 1e-6)
    }

    @Test func rope() {
        var rng = Random(state: 2)
        let rope = RoPE(headDim: 16, theta: 10000, scaling: .none)
        let rows = 6, heads = 3, stride = 48
        var cosT = [Float](repeating: 0, count: rows * 8), sinT = cosT
        rope.tables(start: 3, count: rows, cos: &cosT, sin: &sinT)
        var x = rng.array(rows * stride)
        let c = rng.array(rows * stride)
        func f(_ x: [Float]) -> Double {
            var y = x
            rope.apply(&y, rows: rows, stride: stride, heads: heads, cos: cosT, sin: sinT)
            return Self.dot(y, c)
        }
        var g = c
        rope.applyBackward(&g, rows: rows, stride: stride, heads: heads, cos: cosT, sin: sinT)
        Self.check("rope", &x, analytic: g, loss: f)
    }

    @Test func swiglu() {
        var rng = Random(state: 3)
        let n = 70
        var gate = rng.array(n, scale: 4), up = rng.array(n, scale: 2)
        let c = rng.array(n)
        func f(_ g: [Float], _ u: [Float]) -> Double {
            var y = [Float](repeating: 0, count: n)
            SwiGLU.forward(out: &y, gate: g, up: u, count: n)
            return Self.dot(y, c)
        }
        var dg = [Float](repeating: 0, count: n), du = dg
        SwiGLU.backward(dgate: &dg, dup: &du, dout: c, gate: gate, up: up, count: n)
        Self.check("swiglu dgate", &gate, analytic: dg) { f($0, up) }
        Self.check("swiglu dup", &up, analytic: du) { f(gate, $0) }
    }

    @Test(arguments: [nil, 40] as [Int?])
    func attention(window: Int?) {
        var rng = Random(state: 4)
        let shape = AttentionTraining.Shape(heads: 4, kvHeads: 2, headDim: 8, window: window)
        let T = 150  // more than one query block of 128
        var q = rng.array(T * 32), k = rng.array(T * 16), v = rng.array(T * 16)
        let c = rng.array(T * 32)
        var scratch = [Float](repeating: 0, count: AttentionTraining.scratchCount(tokens: T))
        func f(_ q: [Float], _ k: [Float], _ v: [Float]) -> Double {
            var out = [Float](repeating: 0, count: T * 32), lse = [Float](repeating: 0, count: T * 4)
            AttentionTraining.forward(out: &out, lse: &lse, q: q, k: k, v: v, tokens: T, shape: shape, scratch: &scratch)
            return Self.dot(out, c)
        }
        var out = [Float](repeating: 0, count: T * 32), lse = [Float](repeating: 0, count: T * 4)
        AttentionTraining.forward(out: &out, lse: &lse, q: q, k: k, v: v, tokens: T, shape: shape, scratch: &scratch)
        var dq = [Float](repeating: 0, count: T * 32), dk = [Float](repeating: 0, count: T * 16), dv = dk
        AttentionTraining.backward(dq: &dq, dk: &dk, dv: &dv, dout: c, out: out, lse: lse, q: q, k: k, v: v,
                                   tokens: T, shape: shape, scratch: &scratch)
        Self.check("attention dq", &q, analytic: dq) { f($0, k, v) }
        Self.check("attention dk", &k, analytic: dk) { f(q, $0, v) }
        Self.check("attention dv", &v, analytic: dv) { f(q, k, $0) }
    }

    @Test func projectionWithBiasAndLoRA() {
        var rng = Random(state: 5)
        let R = 7, rows = 12, cols = 10, rank = 3
        var x = rng.array(R * cols), w = rng.array(rows * cols), b = rng.array(rows)
        var a = rng.array(rank * cols), bb = rng.array(rows * rank)
        let c = rng.array(R * rows)
        func f(_ x: [Float], _ w: [Float], _ b: [Float], _ a: [Float], _ bb: [Float]) -> Double {
            var w = w, b = b, a = a, bb = bb, out = [Float](repeating: 0, count: R * rows), xa = [Float](repeating: 0, count: R * rank)
            return w.withUnsafeMutableBufferPointer { wp in b.withUnsafeMutableBufferPointer { bp in
                a.withUnsafeMutableBufferPointer { ap in bb.withUnsafeMutableBufferPointer { bbp in
                    let p = Projection(w: LinearTensors(weight: wp.baseAddress, bias: bp.baseAddress, rows: rows, cols: cols),
                                       grad: LinearTensors(weight: nil, bias: nil, rows: rows, cols: cols),
                                       lora: LoRAPair(a: ap.baseAddress!, b: bbp.baseAddress!, gradA: nil, gradB: nil, rank: rank, scale: 1.5))
                    p.forward(x, rows: R, into: &out, accumulate: false, xa: &xa)
                    return Self.dot(out, c)
                } } } }
        }
        var dx = [Float](repeating: 0, count: R * cols), dw = [Float](repeating: 0, count: rows * cols)
        var db = [Float](repeating: 0, count: rows), da = [Float](repeating: 0, count: rank * cols), dbb = [Float](repeating: 0, count: rows * rank)
        var xa = [Float](repeating: 0, count: R * rank), dxa = xa, out = [Float](repeating: 0, count: R * rows)
        let p = Projection(w: LinearTensors(weight: &w, bias: &b, rows: rows, cols: cols),
                           grad: LinearTensors(weight: &dw, bias: &db, rows: rows, cols: cols),
                           lora: LoRAPair(a: &a, b: &bb, gradA: &da, gradB: &dbb, rank: rank, scale: 1.5))
        p.forward(x, rows: R, into: &out, accumulate: false, xa: &xa)
        p.backward(dy: c, x: x, rows: R, dx: &dx, accumulateDx: false, xa: xa, dxa: &dxa)
        Self.check("projection dx", &x, analytic: dx) { f($0, w, b, a, bb) }
        Self.check("projection dW", &w, analytic: dw) { f(x, $0, b, a, bb) }
        Self.check("projection db", &b, analytic: db) { f(x, w, $0, a, bb) }
        Self.check("projection dA", &a, analytic: da) { f(x, w, b, $0, bb) }
        Self.check("projection dB", &bb, analytic: dbb) { f(x, w, b, a, $0) }
    }

    @Test func embeddingScatterAdds() {
        var dE = [Float](repeating: 0, count: 4 * 3)
        let dx: [Float] = [1, 2, 3, 10, 20, 30, 100, 200, 300]
        GradientKernels.embeddingBackward(&dE, dx: dx, tokens: [2, 0, 2] as [Int32], rows: 3, dim: 3)
        #expect(dE == [10, 20, 30, 0, 0, 0, 101, 202, 303, 0, 0, 0])
        var db: [Float] = [1, 1, 1]
        GradientKernels.biasBackward(&db, dy: dx, rows: 3, cols: 3)
        #expect(db == [112, 223, 334])
    }

    @Test(arguments: [KLEstimator.none, .exact, .k1, .k3])
    func lossHead(estimator: KLEstimator) throws {
        var rng = Random(state: 6)
        let V = 37, H = 6
        let tokens: [[Int32]] = [[1, 5, 9, 30, 2], [7, 7, 3]]
        let batch = PackedSequences(tokens)
        let R = batch.rows
        let seqs = [TrainingSequence(tokens: tokens[0], mask: [0, 1, 0, 1, 1], weights: [0, 0.5, 0, -1.2, 2]),
                    TrainingSequence(tokens: tokens[1], mask: [0, 1, 1], weights: [0, 1, 0.3])]
        let objective = Objective(aggregation: .sequenceMean, klEstimator: estimator, klCoefficient: estimator == .none ? 0 : 0.7)
        var targets = try RowTargets(seqs, batch: batch, objective: objective, vocabSize: V)
        if estimator == .k1 || estimator == .k3 { targets.referenceLogProbs = (0..<R).map { _ in -3 + rng.next() } }
        var hidden = rng.array(R * H), head = rng.array(V * H, scale: 2)
        let refHidden = FloatBuffer(count: R * H), refHead = FloatBuffer(count: V * H)
        for i in 0..<R * H { refHidden.pointer[i] = rng.next() }
        for i in 0..<V * H { refHead.pointer[i] = 2 * rng.next() }
        let reference = (hidden: UnsafePointer(refHidden.pointer), head: UnsafePointer(refHead.pointer))
        func f(_ h: [Float], _ w: [Float]) -> Double {
            var d = [Float](repeating: 0, count: R * H)
            return LossHead.run(hidden: h, head: w, rows: R, hiddenSize: H, vocab: V, targets: targets, objective: objective,
                                reference: reference, dHidden: &d, dHead: nil).loss
        }
        var dh = [Float](repeating: 0, count: R * H), dw = [Float](repeating: 0, count: V * H)
        let result = LossHead.run(hidden: hidden, head: head, rows: R, hiddenSize: H, vocab: V, targets: targets,
                                  objective: objective, reference: reference, dHidden: &dh, dHead: &dw)
        #expect(result.loss.isFinite)
        Self.check("loss head (\(estimator)) dhidden", &hidden, analytic: dh, h: 1e-3) { f($0, head) }
        Self.check("loss head (\(estimator)) dhead", &head, analytic: dw, samples: 80, h: 1e-3) { f(hidden, $0) }
    }
}
