/// What to generate and when to stop.
public struct GenerationParams: Sendable {
    /// Upper bound on new tokens per sequence (0 returns at once).
    public var maxNewTokens: Int = 128
    public var sampling = SamplingParams()
    /// Tokens that end a sequence (kept in the output, as transformers does);
    /// nil means the model's EOS ids from config.json and generation_config.json.
    public var stopTokenIds: [Int32]? = nil
    /// Index of the first sequence's random stream; sequence i uses stream
    /// firstStream + i, so the same (seed, stream) gives the same sample
    /// whatever else is in the batch.
    public var firstStream: UInt64 = 0

    public init(maxNewTokens: Int = 128, sampling: SamplingParams = SamplingParams(),
                stopTokenIds: [Int32]? = nil, firstStream: UInt64 = 0) {
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.stopTokenIds = stopTokenIds
        self.firstStream = firstStream
    }
}

public enum FinishReason: Int32, Sendable {
    /// A stop token was generated (it is the last token of the output).
    case stopToken = 0
    /// max_new_tokens reached.
    case length = 1
    /// The callback asked to stop this sequence.
    case aborted = 2
    /// The context window is full.
    case contextFull = 3
}

/// One generated continuation: token ids with their log-probabilities under
/// the temperature-scaled model, and why it ended.
public struct Generation: Sendable, Equatable {
    public var tokens: [Int32] = []
    public var logProbs: [Float] = []
    public var finishReason: FinishReason = .length
}

/// Decodes many sequences together: each step runs one forward pass over the
/// weights for all unfinished sequences; finished ones leave the batch.
/// Identical prompts (k samples of one problem) are prefilled once and their
/// KV cache copied.
public struct Generator {
    public let model: Model

    public init(model: Model) { self.model = model }

    /// Called after every sampled token with (sequence index, token);
    /// returning false stops that sequence with `.aborted`.
    public typealias TokenCallback = (Int, Int32) -> Bool

    public func generate(prompts: [[Int32]], params: GenerationParams,
                         onToken: TokenCallback? = nil) throws -> [Generation] {
        try params.sampling.validate()
        guard params.maxNewTokens >= 0 else { throw ScoreError.invalidArgument("max_new_tokens \(params.maxNewTokens) is negative") }
        for (i, p) in prompts.enumerated() {
            do { try model.validate(tokens: p) } catch let e as ScoreError {
                throw ScoreError.invalidArgument("prompt \(i): \(e.message)")
            }
        }
        var results = [Generation](repeating: Generation(), count: prompts.count)
        if prompts.isEmpty || params.maxNewTokens == 0 { return results }
        let stopIds = Set(params.stopTokenIds ?? model.config.eosTokenIds.map { Int32($0) })
        let V = model.config.vocabSize

        // Prefill each distinct prompt once, in one batched pass.
        var firstOf: [[Int32]: Int] = [:]
        var unique: [Int] = []
        for (i, p) in prompts.enumerated() where firstOf[p] == nil {
            firstOf[p] = unique.count
            unique.append(i)
        }
        let capacity = { (i: Int) in min(self.model.contextLength, prompts[i].count + params.maxNewTokens) }
        let prefillCaches = unique.map { KVCache(config: model.config, capacity: capacity($0)) }
        let prefillTokens = unique.flatMap { prompts[$0] }
        let hidden = try prefillTokens.withUnsafeBufferPointer {
            try model.transformer.forward(tokens: $0, segments: zip(unique, prefillCaches).map {
                Transformer.Segment(cache: $1, count: prompts[$0].count)
            })
        }
        var lastRows: [Int] = []
        var row = 0
        for i in unique {
            row += prompts[i].count
            lastRows.append(row - 1)
        }
        var logits = lmHead(hidden: hidden, rows: lastRows)

        // Every sequence gets its own cache: the prefill's, or a copy of it.
        var caches: [KVCache] = []
        var rowOf: [Int] = []
        var used = Set<Int>()
        for (i, p) in prompts.enumerated() {
            let u = firstOf[p]!
            rowOf.append(u)
            if used.insert(u).inserted {
                caches.append(prefillCaches[u])
            } else {
                let copy = KVCache(config: model.config, capacity: capacity(i))
                try copy.copyPrefix(from: prefillCaches[u])
                caches.append(copy)
            }
        }

        var rngs = (0..<prompts.count).map { RandomStream(seed: params.sampling.seed, stream: params.firstStream + UInt64($0)) }
        var histories = prompts
        var active = Array(prompts.indices)
        let scratch = FloatBuffer(count: V, zeroed: false)
        while !active.isEmpty {
            var stillActive: [Int] = []
            for (j, i) in active.enumerated() {
                // A copy per sequence: sampling clobbers its logits, and
                // duplicates of a prompt share one row after the prefill.
                scratch.pointer.update(from: logits.pointer + rowOf[j] * V, count: V)
                let s = histories[i].withUnsafeBufferPointer {
                    Sampler.sample(logits: scratch.pointer, vocab: V, params: params.sampling, history: $0, rng: &rngs[i])
                }
                results[i].tokens.append(s.token)
                results[i].logProbs.append(s.logProb)
                histories[i].append(s.token)
                if let onToken, !onToken(i, s.token) {
                    results[i].finishReason = .aborted
                } else if stopIds.contains(s.token) {
                    results[i].finishReason = .stopToken
                } else if results[i].tokens.count >= params.maxNewTokens {
                    results[i].finishReason = .length
                } else if caches[i].count + 1 > min(caches[i].capacity, model.contextLength) {
                    results[i].finishReason = .contextFull
                } else {
                    stillActive.append(i)
                }
            }
            active = stillActive
            if active.isEmpty { break }
            let step = active.map { histories[$0].last! }
            let h = try step.withUnsafeBufferPointer {
                try model.transformer.forward(tokens: $0, segments: active.map { Transformer.Segment(cache: caches[$0], count: 1) })
            }
            logits = lmHead(hidden: h, rows: Array(0..<active.count))
            rowOf = Array(0..<active.count)
        }
        return results
    }

    /// Logits [rows.count × vocab] of the given hidden-state rows.
    private func lmHead(hidden: FloatBuffer, rows: [Int]) -> FloatBuffer {
        let H = model.config.hiddenSize, V = model.config.vocabSize
        let picked = FloatBuffer(count: rows.count * H, zeroed: false)
        for (j, r) in rows.enumerated() {
            (picked.pointer + j * H).update(from: hidden.pointer + r * H, count: H)
        }
        let out = FloatBuffer(count: rows.count * V, zeroed: false)
        if rows.count <= SkinnyMatmul.maxRows {
            SkinnyMatmul.forward(m: rows.count, n: V, k: H, x: picked.pointer, ldx: H, w: model.weights.lmHead,
                                 out: out.pointer, ldo: V, accumulate: false)
        } else {
            BLAS.matmulTransposedB(m: rows.count, n: V, k: H, a: picked.pointer, lda: H,
                                   b: model.weights.lmHead, ldb: H, c: out.pointer, ldc: V)
        }
        return out
    }
}
