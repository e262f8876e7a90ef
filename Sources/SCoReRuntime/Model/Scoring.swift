/// Teacher-forced scoring: the log-probability of each token given the ones
/// before it, and the next-token logits. The LM head runs over blocks of
/// positions, so at most `rowBlock × vocab` logits exist at any time (a
/// 151,936-entry vocabulary × 1,024 positions would otherwise be 620 MB).
extension Model {
    public static let scoringRowBlock = 32

    /// out[i] = log p(tokens[i+1] | tokens[...i]) for i in 0 ..< n-1.
    public func logProbs(tokens: [Int32]) throws -> [Float] {
        try validate(tokens: tokens)
        let n = tokens.count
        if n == 1 { return [] }
        let hidden = try runFullSequence(tokens)
        var result = [Float](repeating: 0, count: n - 1)
        let V = config.vocabSize, H = config.hiddenSize
        let block = Model.scoringRowBlock
        let logits = FloatBuffer(count: min(block, n - 1) * V, zeroed: false)
        var row = 0
        while row < n - 1 {
            let rows = min(block, n - 1 - row)
            BLAS.matmulTransposedB(m: rows, n: V, k: H, a: hidden.pointer + row * H, lda: H,
                                   b: weights.lmHead, ldb: H, c: logits.pointer, ldc: V)
            for r in 0..<rows {
                let z = logits.pointer + r * V
                let target = Int(tokens[row + r + 1])
                result[row + r] = z[target] - Softmax.logSumExp(z, count: V)
            }
            row += rows
        }
        return result
    }

    /// Logits [vocab] of the distribution after the last token.
    public func lastLogits(tokens: [Int32]) throws -> [Float] {
        try validate(tokens: tokens)
        let hidden = try runFullSequence(tokens)
        let V = config.vocabSize, H = config.hiddenSize
        var out = [Float](repeating: 0, count: V)
        out.withUnsafeMutableBufferPointer { o in
            BLAS.matmulTransposedB(m: 1, n: V, k: H, a: hidden.pointer + (tokens.count - 1) * H, lda: H,
                                   b: weights.lmHead, ldb: H, c: o.baseAddress!, ldc: V)
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
            BLAS.matmulTransposedB(m: tokens.count, n: V, k: H, a: hidden.pointer, lda: H,
                                   b: weights.lmHead, ldb: H, c: o.baseAddress!, ldc: V)
        }
        return out
    }

    /// Final hidden states [n × H] of a whole sequence, using a private cache.
    func runFullSequence(_ tokens: [Int32]) throws -> FloatBuffer {
        let cache = KVCache(config: config, capacity: tokens.count)
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
            BLAS.matmulTransposedB(m: 1, n: V, k: H, a: hidden.pointer + (tokens.count - 1) * H, lda: H,
                                   b: weights.lmHead, ldb: H, c: o.baseAddress!, ldc: V)
        }
        return out
    }
}
