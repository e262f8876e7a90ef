/// Teacher-forced scoring: the log-probability of each token given the ones
/// before it, and the next-token logits. The LM head runs over blocks of
/// positions, so at most `rowBlock × vocab` logits exist at any time (a
/// 151,936-entry vocabulary × 1,024 positions would otherwise be 620 MB).
extension Model {
    public static let scoringRowBlock = 32

    /// out[i] = log p(tokens[i+1] | tokens[...i]) for i in 0 ..< n-1.
    public func logProbs(tokens: [Int32]) throws -> [Float] {
        try logProbs(batch: [tokens])[0]
    }

    /// `logProbs(tokens:)` of several sequences in one pass over the weights:
    /// their rows go through every matrix product together (each sequence
    /// attends only to itself), which is what makes scoring a batch fast.
    public func logProbs(batch: [[Int32]]) throws -> [[Float]] {
        guard !batch.isEmpty else { throw ScoreError.invalidArgument("no sequences to score") }
        for (b, tokens) in batch.enumerated() {
            do { try validate(tokens: tokens) } catch let e as ScoreError where batch.count > 1 {
                throw ScoreError.invalidArgument("sequence \(b): \(e.message)")
            }
        }
        let segments = batch.map { Transformer.Segment(cache: makeCache(capacity: $0.count), count: $0.count) }
        let flat = batch.flatMap { $0 }
        let hidden = try flat.withUnsafeBufferPointer { try transformer.forward(tokens: $0, segments: segments) }
        var rows: [Int] = [], targets = [Int32](repeating: -1, count: flat.count)
        var start = 0
        for tokens in batch {
            for i in 0..<(tokens.count - 1) {
                rows.append(start + i)
                targets[start + i] = tokens[i + 1]
            }
            start += tokens.count
        }
        var out = [Float](repeating: 0, count: flat.count)
        Model.targetLogProbs(hidden: hidden.pointer, head: weights.lmHead, hiddenSize: config.hiddenSize,
                             vocab: config.vocabSize, rows: rows, targets: targets, into: &out)
        start = 0
        return batch.map { tokens in
            defer { start += tokens.count }
            return Array(out[start..<(start + tokens.count - 1)])
        }
    }

    /// out[r] = log softmax(hidden[r] · headᵀ)[targets[r]] for each r in `rows`:
    /// the LM head over blocks of rows (never a whole [rows × vocab] buffer),
    /// the log-sum-exp of each row spread over the thread pool.
    static func targetLogProbs(hidden: UnsafePointer<Float>, head: WeightMatrix, hiddenSize H: Int, vocab V: Int,
                               rows: [Int], targets: [Int32], into out: inout [Float]) {
        let block = max(scoringRowBlock, min(256, (1 << 22) / max(V, 1)))
        let h = FloatBuffer(count: min(block, max(rows.count, 1)) * H, zeroed: false)
        let z = FloatBuffer(count: min(block, max(rows.count, 1)) * V, zeroed: false)
        out.withUnsafeMutableBufferPointer { o in
            let result = o.baseAddress!
            var first = 0
            while first < rows.count {
                let n = min(block, rows.count - first)
                for i in 0..<n { (h.pointer + i * H).update(from: hidden + rows[first + i] * H, count: H) }
                head.multiply(h.pointer, rows: n, ldx: H, into: z.pointer, ldo: V, accumulate: false)
                let offset = first
                Parallel.chunks(n, grain: max(1, 16384 / V)) { range in
                    for i in range {
                        let r = rows[offset + i], zr = z.pointer + i * V
                        result[r] = zr[Int(targets[r])] - Softmax.logSumExp(zr, count: V)
                    }
                }
                first += n
            }
        }
    }

    /// Logits [vocab] of the distribution after the last token.
    public func lastLogits(tokens: [Int32]) throws -> [Float] {
        try validate(tokens: tokens)
        let hidden = try runFullSequence(tokens)
        let V = config.vocabSize, H = config.hiddenSize
        var out = [Float](repeating: 0, count: V)
        out.withUnsafeMutableBufferPointer { o in
            weights.lmHead.multiply(hidden.pointer + (tokens.count - 1) * H, rows: 1, ldx: H,
                                    into: o.baseAddress!, ldo: V, accumulate: false)
        }
        return out
    }

    /// Logits of every position [n × vocab]. Only for tests and small inputs:
    /// this is exactly the buffer scoring avoids.
    public func allLogits(tokens: [Int32]) throws -> [Float] {
        try validate(tokens: tokens)
        let hidden = try runFullSequence(tokens)
        let V = config.vocabSize, H = config.hiddenSize
        var out = [Float](repeating: 0, count: tokens.count * V)
        out.withUnsafeMutableBufferPointer { o in
            weights.lmHead.multiply(hidden.pointer, rows: tokens.count, ldx: H,
                                    into: o.baseAddress!, ldo: V, accumulate: false)
        }
        return out
    }

    /// Final hidden states [n × H] of a whole sequence, using a private cache.
    func runFullSequence(_ tokens: [Int32]) throws -> FloatBuffer {
        let cache = makeCache(capacity: tokens.count)
        return try tokens.withUnsafeBufferPointer { try transformer.forward(tokens: $0, cache: cache) }
    }

    /// Logits [vocab] for each of `tokens` appended to `cache` (incremental
    /// decoding); returns the logits of the last one.
    public func decode(tokens: [Int32], cache: KVCache) throws -> [Float] {
        try validate(tokens: tokens)
        guard cache.count + tokens.count <= contextLength else {
            throw ScoreError.invalidArgument("\(cache.count + tokens.count) positions exceed the context length of \(contextLength)")
        }
        let hidden = try tokens.withUnsafeBufferPointer { try transformer.forward(tokens: $0, cache: cache) }
        let V = config.vocabSize, H = config.hiddenSize
        var out = [Float](repeating: 0, count: V)
        out.withUnsafeMutableBufferPointer { o in
            weights.lmHead.multiply(hidden.pointer + (tokens.count - 1) * H, rows: 1, ldx: H,
                                    into: o.baseAddress!, ldo: V, accumulate: false)
        }
        return out
    }
}
