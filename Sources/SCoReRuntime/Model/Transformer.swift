import CKernels

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
/// One call processes R rows split into segments: each segment is a run of
/// consecutive positions of one sequence (its own KV cache). A prefill is one
/// segment of T rows; a batched decoding step is B segments of one row. All
/// rows share each weight matrix product, which is what makes batching pay.
///
/// Shapes: R rows, H hidden, Q = heads·headDim, K = kvHeads·headDim, I intermediate.
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let weights: Weights
    let rope: RoPE

    /// A run of `count` rows appended to `cache` at positions cache.count ..< cache.count + count.
    public struct Segment {
        public let cache: KVCache
        public let count: Int
        public init(cache: KVCache, count: Int) {
            self.cache = cache
            self.count = count
        }
    }

    /// Scratch buffers of a forward pass, kept between passes: each grows to
    /// the largest size asked for and is then reused.
    public final class Workspace {
        enum Slot: Int, CaseIterable { case x, h, q, k, v, attn, gate, up, scores, widened, cosTable, sinTable, picked, logits }
        private var buffers: [FloatBuffer?] = Array(repeating: nil, count: Slot.allCases.count)

        public init() {}

        func buffer(_ slot: Slot, count: Int) -> FloatBuffer {
            if let b = buffers[slot.rawValue], b.count >= count { return b }
            let b = FloatBuffer(count: max(count, 1), zeroed: false)
            buffers[slot.rawValue] = b
            return b
        }
    }

    public init(config: ModelConfig, weights: Weights) {
        self.config = config
        self.weights = weights
        rope = RoPE(headDim: config.headDim, theta: config.ropeTheta, scaling: config.ropeScaling)
    }

    /// Runs `tokens` at positions cache.count ..< cache.count + T, appends their
    /// keys and values to `cache`, and returns the final-normed hidden states
    /// [T × H]. Token ids must already be validated against the vocabulary.
    public func forward(tokens: UnsafeBufferPointer<Int32>, cache: KVCache) throws -> FloatBuffer {
        try forward(tokens: tokens, segments: [Segment(cache: cache, count: tokens.count)])
    }

    /// Runs rows of several sequences at once; `tokens` holds the rows of
    /// segments[0], then segments[1], … Returns hidden states [R × H] in that order.
    /// Every segment's cache must be distinct.
    ///
    /// A `workspace` lends the step's scratch buffers (and the returned
    /// hidden states, valid until its next use): a decoding loop passes one,
    /// so its steps allocate nothing.
    public func forward(tokens: UnsafeBufferPointer<Int32>, segments: [Segment],
                        workspace: Workspace? = nil) throws -> FloatBuffer {
        let c = config
        let scratch = workspace ?? Workspace()
        let R = tokens.count
        guard R > 0 else { throw ScoreError.invalidArgument("no tokens to process") }
        guard segments.reduce(0, { $0 + $1.count }) == R else {
            throw ScoreError.invalidArgument("segments cover \(segments.reduce(0, { $0 + $1.count })) rows, \(R) tokens given")
        }
        // Decoding (one row per sequence) gives every (sequence, KV head) its own scores row.
        let decoding = segments.allSatisfy { $0.count == 1 }
        var maxKeys = 0
        for s in segments {
            guard s.count > 0 else { throw ScoreError.invalidArgument("empty segment") }
            guard s.cache.precision == segments[0].cache.precision else {
                throw ScoreError.invalidArgument("KV caches of different precisions in one batch")
            }
            guard s.cache.count + s.count <= s.cache.capacity else {
                throw ScoreError.invalidArgument("\(s.cache.count + s.count) positions exceed the cache capacity of \(s.cache.capacity)")
            }
            maxKeys = max(maxKeys, Attention.scratchCount(queries: s.count, keys: s.cache.count + s.count,
                                                          widening: s.cache.precision == .bf16 && !decoding ? c.headDim : 0))
        }
        let H = c.hiddenSize, Q = c.qDim, K = c.kvDim, I = c.intermediateSize, D = c.headDim

        let x = scratch.buffer(.x, count: R * H)        // residual stream
        let h = scratch.buffer(.h, count: R * H)        // normed input of a block
        let q = scratch.buffer(.q, count: R * Q)
        let k = scratch.buffer(.k, count: R * K)
        let v = scratch.buffer(.v, count: R * K)
        let attn = scratch.buffer(.attn, count: R * Q)
        let gate = scratch.buffer(.gate, count: R * I)
        let up = scratch.buffer(.up, count: R * I)
        // A prefill deals its heads over the pool's threads, a scores slot each.
        let slots = ThreadPool.shared.threads
        let scores = scratch.buffer(.scores, count: decoding ? maxKeys * segments.count * c.kvHeadCount : maxKeys * slots)
        // Decoding with BF16 caches: a thread's keys and values widened to F32.
        let maxPositions = segments.map { $0.cache.count + 1 }.max()!
        let widened = decoding && segments[0].cache.precision == .bf16
            ? scratch.buffer(.widened, count: ThreadPool.shared.threads * 2 * maxPositions * D) : nil
        let cosTable = scratch.buffer(.cosTable, count: R * D / 2)
        let sinTable = scratch.buffer(.sinTable, count: R * D / 2)
        var row = 0
        for s in segments {
            rope.tables(start: s.cache.count, count: s.count,
                        cos: cosTable.pointer + row * D / 2, sin: sinTable.pointer + row * D / 2)
            row += s.count
        }

        for r in 0..<R {
            weights.embedding.copyRow(Int(tokens[r]), to: x.pointer + r * H)
        }

        for (l, w) in weights.layers.enumerated() {
            RMSNorm.forward(out: h.pointer, outStride: H, x: x.pointer, xStride: H,
                            weight: w.inputNorm, rows: R, dim: H, eps: c.rmsNormEps)
            project(h.pointer, R, [(w.q, q.pointer), (w.k, k.pointer), (w.v, v.pointer)])
            if let qn = w.qNorm, let kn = w.kNorm {
                RMSNorm.forward(out: q.pointer, outStride: D, x: q.pointer, xStride: D,
                                weight: qn, rows: R * c.headCount, dim: D, eps: c.rmsNormEps)
                RMSNorm.forward(out: k.pointer, outStride: D, x: k.pointer, xStride: D,
                                weight: kn, rows: R * c.kvHeadCount, dim: D, eps: c.rmsNormEps)
            }
            rope.apply(q.pointer, rows: R, stride: Q, heads: c.headCount, cos: cosTable.pointer, sin: sinTable.pointer)
            rope.apply(k.pointer, rows: R, stride: K, heads: c.kvHeadCount, cos: cosTable.pointer, sin: sinTable.pointer)

            row = 0
            for s in segments {
                s.cache.store(layer: l, keys: k.pointer + row * K, values: v.pointer + row * K,
                              position: s.cache.count, rows: s.count)
                row += s.count
            }
            if decoding {
                // One query per sequence: (sequence, KV head) pairs in parallel.
                // The query heads sharing a KV head run one after another on
                // the same thread, so its keys and values come from memory
                // once and from cache for the rest of the group.
                let heads = c.headCount, groups = c.kvHeadCount, perGroup = heads / groups
                let pairs = segments.count * groups
                func attend(_ pair: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, headStride: Int,
                            prefetch: UnsafeMutablePointer<PrefetchStream>?) {
                    let (i, group) = pair.quotientAndRemainder(dividingBy: groups)
                    for head in (group * perGroup)..<((group + 1) * perGroup) {
                        Attention.singleQuery(out: attn.pointer + i * Q + head * D, q: q.pointer + i * Q + head * D,
                                              k: k, v: v, position: segments[i].cache.count, head: head, heads: heads,
                                              kvHeads: groups, headDim: D, rowStride: D, headStride: headStride,
                                              slidingWindow: c.slidingWindow,
                                              scratch: scores.pointer + pair * maxKeys, prefetch: prefetch)
                    }
                }
                // Each thread takes every parts-th pair and, while it computes
                // one, asks for the next one's keys and values (prefetch into
                // L2). BF16 caches are widened (half the bytes from memory)
                // into the thread's own F32 run, read from cache by the
                // group's heads.
                let parts = min(ThreadPool.shared.threads, pairs), area = 2 * maxPositions * D
                let size = segments[0].cache.precision.bytes
                ThreadPool.shared.run(parts: parts) { part in
                    func run(_ pair: Int) -> (cache: KVCache, begin: Int, from: Int, count: Int) {
                        let cache = segments[pair / groups].cache, position = cache.count
                        let begin = c.slidingWindow.map { max(0, position - $0 + 1) } ?? 0
                        return (cache, begin, pair % groups * cache.headStride + begin * D, (position + 1 - begin) * D)
                    }
                    var pair = part
                    while pair < pairs {
                        let (cache, begin, from, count) = run(pair)
                        // The next pair's runs, a slice every sixteen keys of this one's heads.
                        var stream = PrefetchStream()
                        if pair + parts < pairs {
                            let next = run(pair + parts)
                            stream = PrefetchStream((UnsafeRawPointer(next.cache.keys(l, as: UInt8.self)) + next.from * size, next.count * size),
                                                    (UnsafeRawPointer(next.cache.values(l, as: UInt8.self)) + next.from * size, next.count * size),
                                                    steps: 2 * perGroup * ((count / D + 15) / 16))
                        }
                        if let widened {
                            let keys = widened.pointer + part * area, values = keys + maxPositions * D
                            BF16.widen(cache.keys(l, as: BF16.self) + from, into: keys + begin * D, count: count)
                            BF16.widen(cache.values(l, as: BF16.self) + from, into: values + begin * D, count: count)
                            attend(pair, k: keys, v: values, headStride: 0, prefetch: &stream)
                        } else {
                            attend(pair, k: cache.keys(l, as: Float.self), v: cache.values(l, as: Float.self),
                                   headStride: cache.headStride, prefetch: &stream)
                        }
                        pair += parts
                    }
                }
            } else {
                row = 0
                for s in segments {
                    func attend<E: CacheElement>(_: E.Type) {
                        Attention.forward(out: attn.pointer + row * Q, q: q.pointer + row * Q,
                                          k: s.cache.keys(l, as: E.self), v: s.cache.values(l, as: E.self),
                                          queries: s.count, start: s.cache.count,
                                          heads: c.headCount, kvHeads: c.kvHeadCount, headDim: D,
                                          rowStride: D, headStride: s.cache.headStride, slidingWindow: c.slidingWindow,
                                          scratch: scores.pointer, scratchSlots: slots)
                    }
                    switch s.cache.precision {
                    case .f32: attend(Float.self)
                    case .bf16: attend(BF16.self)
                    }
                    row += s.count
                }
            }
            project(attn.pointer, R, w.o, into: x.pointer, accumulate: true)

            RMSNorm.forward(out: h.pointer, outStride: H, x: x.pointer, xStride: H,
                            weight: w.postAttentionNorm, rows: R, dim: H, eps: c.rmsNormEps)
            project(h.pointer, R, [(w.gate, gate.pointer), (w.up, up.pointer)])
            SwiGLU.forward(out: gate.pointer, gate: gate.pointer, up: up.pointer, count: R * I)
            project(gate.pointer, R, w.down, into: x.pointer, accumulate: true)
        }
        for s in segments { s.cache.count += s.count }

        RMSNorm.forward(out: h.pointer, outStride: H, x: x.pointer, xStride: H,
                        weight: weights.finalNorm, rows: R, dim: H, eps: c.rmsNormEps)
        return h
    }

    /// outs[i][R × rows_i] = input[R × cols] · W_iᵀ + b_i for projections of one input.
    private func project(_ input: UnsafePointer<Float>, _ R: Int, _ group: [(Linear, UnsafeMutablePointer<Float>)]) {
        WeightMatrix.multiply(group: group.map { ($0.0.weight, $0.1) }, input, rows: R, ldx: group[0].0.cols)
        for (w, out) in group {
            if let b = w.bias { Bias.add(out, rows: R, cols: w.rows, stride: w.rows, bias: b) }
        }
    }

    /// out[R × rows] (=|+=) input[R × cols] · Wᵀ + b
    @inline(__always)
    private func project(_ input: UnsafePointer<Float>, _ R: Int, _ w: Linear,
                         into out: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        if accumulate, let b = w.bias {
            Bias.add(out, rows: R, cols: w.rows, stride: w.rows, bias: b)
        }
        w.weight.multiply(input, rows: R, ldx: w.cols, into: out, ldo: w.rows, accumulate: accumulate)
        if !accumulate, let b = w.bias {
            Bias.add(out, rows: R, cols: w.rows, stride: w.rows, bias: b)
        }
    }
}
