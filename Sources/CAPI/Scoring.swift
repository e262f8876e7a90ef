import CScoreABI
import SCoReRuntime

// score_model_logprobs / score_model_last_logits: teacher-forced scoring.

/// Copies a caller token array after checking the pointer and count.
func tokenArray(_ tokens: UnsafePointer<Int32>?, _ count: Int) throws -> [Int32] {
    guard count > 0 else { throw ScoreError.invalidArgument("n_tokens is 0") }
    guard let tokens else { throw ScoreError.invalidArgument("tokens is NULL") }
    guard count <= 1 << 24 else { throw ScoreError.invalidArgument("n_tokens \(count) is absurdly large") }
    return Array(UnsafeBufferPointer(start: tokens, count: count))
}

@c @implementation
public func score_model_logprobs(_ model: OpaquePointer?, _ tokens: UnsafePointer<Int32>?, _ nTokens: Int,
                                 _ out: UnsafeMutablePointer<Float>?, _ cap: Int,
                                 _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_model_logprobs") {
        let m = try unbox(model)
        let ids = try tokenArray(tokens, nTokens)
        try m.validate(tokens: ids)
        guard try checkBuffer(out, capacity: cap, required: ids.count - 1, needed: needed, what: "log-probs") else { return }
        let lp = try m.logProbs(tokens: ids)
        lp.withUnsafeBufferPointer { src in
            if let base = src.baseAddress, !src.isEmpty { out!.update(from: base, count: src.count) }
        }
    }
}

@c @implementation
public func score_model_logprobs_batch(_ model: OpaquePointer?, _ tokens: UnsafePointer<Int32>?,
                                       _ offsets: UnsafePointer<Int>?, _ nSequences: Int,
                                       _ out: UnsafeMutablePointer<Float>?, _ cap: Int,
                                       _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_model_logprobs_batch") {
        let m = try unbox(model)
        guard nSequences > 0 else { throw ScoreError.invalidArgument("n_sequences is 0") }
        guard nSequences <= 1 << 20 else { throw ScoreError.invalidArgument("n_sequences \(nSequences) is absurdly large") }
        guard let offsets else { throw ScoreError.invalidArgument("offsets is NULL") }
        guard offsets[0] == 0 else { throw ScoreError.invalidArgument("offsets[0] is \(offsets[0]), must be 0") }
        // Every offset is checked before any token is read: tokens holds
        // offsets[n_sequences] ids, and a larger offset before it must not
        // send the copy past them.
        for b in 0..<nSequences {
            let (lo, hi) = (offsets[b], offsets[b + 1])
            guard lo < hi else { throw ScoreError.invalidArgument("sequence \(b) is empty or offsets decrease (offsets[\(b)] = \(lo), offsets[\(b + 1)] = \(hi))") }
        }
        let all = try tokenArray(tokens, offsets[nSequences])
        var batch: [[Int32]] = []
        for b in 0..<nSequences { batch.append(Array(all[offsets[b]..<offsets[b + 1]])) }
        for (b, ids) in batch.enumerated() {
            do { try m.validate(tokens: ids) } catch let e as ScoreError { throw ScoreError.invalidArgument("sequence \(b): \(e.message)") }
        }
        guard try checkBuffer(out, capacity: cap, required: all.count - nSequences, needed: needed, what: "log-probs") else { return }
        var at = 0
        for lp in try m.logProbs(batch: batch) {
            lp.withUnsafeBufferPointer { src in
                if let base = src.baseAddress, !src.isEmpty { (out! + at).update(from: base, count: src.count) }
            }
            at += lp.count
        }
    }
}

@c @implementation
public func score_model_last_logits(_ model: OpaquePointer?, _ tokens: UnsafePointer<Int32>?, _ nTokens: Int,
                                    _ logits: UnsafeMutablePointer<Float>?, _ cap: Int,
                                    _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_model_last_logits") {
        let m = try unbox(model)
        let ids = try tokenArray(tokens, nTokens)
        try m.validate(tokens: ids)
        guard try checkBuffer(logits, capacity: cap, required: m.config.vocabSize, needed: needed, what: "logits") else { return }
        let z = try m.lastLogits(tokens: ids)
        z.withUnsafeBufferPointer { logits!.update(from: $0.baseAddress!, count: $0.count) }
    }
}
