/// The decoder forward pass shared by Llama, Mistral, Qwen2 and Qwen3:
///
///   x = embed(tokens)
///   for each layer:
///     h = rmsnorm(x);  q, k, v = h·Wqᵀ(+b), h·Wkᵀ(+b), h·Wvᵀ(+b)
///     [Qwen3] q, k = rmsnorm_per_head(q), rmsnorm_per_head(k)
///     q, k = rope(q), rope(k);  append k, v to the cache
///     x += attention(q, cache)·Woᵀ(+b)
///     h = rmsnorm(x);  x += (silu(h·Wgᵀ) ⊙ h·Wuᵀ)·Wdᵀ
///   return rmsnorm(x)
///
/// Shapes: T new tokens, H hidden, Q = heads·headDim, K = kvHeads·headDim, I intermediate.
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let weights: Weights
    let rope: RoPE

    public init(config: ModelConfig, weights: Weights) {
        self.config = config
        self.weights = weights
        rope = RoPE(headDim: config.headDim, theta: config.ropeTheta, scaling: config.ropeScaling)
    }

    /// Runs `tokens` at positions cache.count ..< cache.count + T, appends their
    /// keys and values to `cache`, and returns the final-normed hidden states
    /// [T × H]. Token ids must already be validated against the vocabulary.
    public func forward(tokens: UnsafeBufferPointer<Int32>, cache: KVCache) throws -> FloatBuffer {
        let c = config
        let T = tokens.count
        let start = cache.count
        guard T > 0 else { throw ScoreError.invalidArgument("no tokens to process") }
        guard start + T <= cache.capacity else {
            throw ScoreError.invalidArgument("\(start + T) positions exceed the cache capacity of \(cache.capacity)")
        }
        let H = c.hiddenSize, Q = c.qDim, K = c.kvDim, I = c.intermediateSize, D = c.headDim

        let x = FloatBuffer(count: T * H, zeroed: false)        // residual stream
        let h = FloatBuffer(count: T * H, zeroed: false)        // normed input of a block
        let q = FloatBuffer(count: T * Q, zeroed: false)
        let attn = FloatBuffer(count: T * Q, zeroed: false)
        let gate = FloatBuffer(count: T * I, zeroed: false)
        let up = FloatBuffer(count: T * I, zeroed: false)
        let scores = FloatBuffer(count: Attention.scratchCount(queries: T, keys: start + T), zeroed: false)
        let cosTable = FloatBuffer(count: T * D / 2, zeroed: false)
        let sinTable = FloatBuffer(count: T * D / 2, zeroed: false)
        rope.tables(start: start, count: T, cos: cosTable.pointer, sin: sinTable.pointer)

        for t in 0..<T {
            (x.pointer + t * H).update(from: weights.embedding + Int(tokens[t]) * H, count: H)
        }

        for (l, w) in weights.layers.enumerated() {
            let kRows = cache.keys[l].pointer + start * K
            let vRows = cache.values[l].pointer + start * K

            RMSNorm.forward(out: h.pointer, outStride: H, x: x.pointer, xStride: H,
                            weight: w.inputNorm, rows: T, dim: H, eps: c.rmsNormEps)
            project(h.pointer, T, w.q, into: q.pointer)
            project(h.pointer, T, w.k, into: kRows)
            project(h.pointer, T, w.v, into: vRows)
            if let qn = w.qNorm, let kn = w.kNorm {
                RMSNorm.forward(out: q.pointer, outStride: D, x: q.pointer, xStride: D,
                                weight: qn, rows: T * c.headCount, dim: D, eps: c.rmsNormEps)
                RMSNorm.forward(out: kRows, outStride: D, x: kRows, xStride: D,
                                weight: kn, rows: T * c.kvHeadCount, dim: D, eps: c.rmsNormEps)
            }
            rope.apply(q.pointer, rows: T, stride: Q, heads: c.headCount, cos: cosTable.pointer, sin: sinTable.pointer)
            rope.apply(kRows, rows: T, stride: K, heads: c.kvHeadCount, cos: cosTable.pointer, sin: sinTable.pointer)

            Attention.forward(out: attn.pointer, q: q.pointer,
                              k: cache.keys[l].pointer, v: cache.values[l].pointer,
                              queries: T, start: start,
                              heads: c.headCount, kvHeads: c.kvHeadCount, headDim: D,
                              slidingWindow: c.slidingWindow, scratch: scores.pointer)
            project(attn.pointer, T, w.o, into: x.pointer, accumulate: true)

            RMSNorm.forward(out: h.pointer, outStride: H, x: x.pointer, xStride: H,
                            weight: w.postAttentionNorm, rows: T, dim: H, eps: c.rmsNormEps)
            project(h.pointer, T, w.gate, into: gate.pointer)
            project(h.pointer, T, w.up, into: up.pointer)
            SwiGLU.forward(out: gate.pointer, gate: gate.pointer, up: up.pointer, count: T * I)
            project(gate.pointer, T, w.down, into: x.pointer, accumulate: true)
        }
        cache.count = start + T

        RMSNorm.forward(out: h.pointer, outStride: H, x: x.pointer, xStride: H,
                        weight: weights.finalNorm, rows: T, dim: H, eps: c.rmsNormEps)
        return h
    }

    /// out[T × rows] (=|+=) input[T × cols] · Wᵀ + b
    @inline(__always)
    private func project(_ input: UnsafePointer<Float>, _ T: Int, _ w: Linear,
                         into out: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        if accumulate, let b = w.bias {
            Bias.add(out, rows: T, cols: w.rows, stride: w.rows, bias: b)
        }
        BLAS.matmulTransposedB(m: T, n: w.rows, k: w.cols, a: input, lda: w.cols,
                               b: w.weight, ldb: w.cols, c: out, ldc: w.rows,
                               beta: accumulate ? 1 : 0)
        if !accumulate, let b = w.bias {
            Bias.add(out, rows: T, cols: w.rows, stride: w.rows, bias: b)
        }
    }
}
