#if canImport(Glibc)
import Glibc
#endif

/// What to generate and when to stop.
public struct GenerationParams: Sendable {
    /// Upper bound on new tokens per sequence (0 returns at once).
    public var maxNewTokens: Int = 128
    public var sampling = SamplingParams()
    /// Tokens that end a sequence (kept in the output, as transformers does);
    /// nil means the model's EOS ids from config.json and generation_config.json.
    public var stopTokenIds: [Int32]? = nil
    /// Texts that end a sequence as soon as the generated text contains one,
    /// wherever token boundaries fall (the tokens are kept, as transformers
    /// does). Needs the model's tokenizer.
    public var stopStrings: [String] = []
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

/// Up-front bounds on the sizes of one generation call, so a huge count
/// (samples = 2^31 - 1) is a clear error before anything is allocated rather
/// than memory growing until the process dies.
public enum GenerationLimits {
    /// Sequences decoded together in one call (problems × samples).
    public static let maxSequences = 1 << 20
    /// Samples per problem in the revise loop (as SCoReConfig and score-cli).
    public static let maxSamples = 4096
    /// Attempts per sample in the revise loop.
    public static let maxAttempts = 256

    /// Physical memory of this machine (the budget of `checkMemory`).
    public static let physicalMemory: Int = {
        #if canImport(Glibc)
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        if pages > 0 && size > 0 { return pages.multipliedReportingOverflow(by: size).overflow ? Int.max : pages * size }
        #endif
        return Int.max
    }()

    /// Bytes of KV cache (keys and values, every layer) one token takes.
    public static func kvBytesPerToken(_ model: Model) -> Int {
        model.config.layerCount * model.config.kvDim * 2 * model.kvPrecision.bytes
    }

    /// Throws when sequences of up to `tokens[i]` tokens each (each capped at
    /// the context length; the decoder reserves that much KV cache up front)
    /// would need more memory than `budget` (default: physical memory).
    public static func checkMemory(model: Model, tokensPerSequence tokens: [Int], what: String,
                                   budget: Int = physicalMemory) throws {
        let perToken = kvBytesPerToken(model), context = model.contextLength
        var total = 0.0
        for t in tokens { total += Double(min(max(t, 0), context)) * Double(perToken) + Double(model.config.vocabSize) * 4 }
        guard total <= Double(budget) else {
            let gb = { (x: Double) in String(Double(Int(x / 1e8)) / 10) }
            throw ScoreError.invalidArgument("\(what): \(tokens.count) sequences of up to \(tokens.max() ?? 0) tokens would need up to \(gb(total)) GB of KV cache, more than this machine's \(gb(Double(budget))) GB of memory; use fewer sequences per call or a smaller max_new_tokens")
        }
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
    /// The generated text contains one of the stop strings.
    case stopString = 4
}

/// One generated continuation: token ids with their log-probabilities under
/// the temperature-scaled model, and why it ended.
public struct Generation: Sendable, Equatable {
    public var tokens: [Int32] = []
    public var logProbs: [Float] = []
    public var finishReason: FinishReason = .length
}

/// A sequence under generation: every token so far (prompt, generated,
/// appended) and the KV cache of the ones already run through the model.
/// The last generated token is not fed until the sequence is continued, so
/// a conversation grows turn by turn without ever re-running (or
/// re-tokenizing) what came before.
public final class SequenceState: @unchecked Sendable {
    public internal(set) var tokens: [Int32] = []
    let cache: KVCache

    public init(model: Model) {
        cache = model.makeCache(capacity: 16)
    }

    /// Tokens not yet in the cache.
    var pending: ArraySlice<Int32> { tokens[cache.count...] }
}

/// Decodes many sequences together: each step runs one forward pass over the
/// weights for all unfinished sequences; finished ones leave the batch.
/// Sequences with identical histories (k samples of one problem) are
/// prefilled once and their KV cache copied.
public struct Generator {
    public let model: Model

    public init(model: Model) { self.model = model }

    /// Called after every sampled token with (sequence index, token);
    /// returning false stops that sequence with `.aborted`.
    public typealias TokenCallback = (Int, Int32) -> Bool

    /// Continuations of fresh prompts.
    public func generate(prompts: [[Int32]], params: GenerationParams,
                         onToken: TokenCallback? = nil) throws -> [Generation] {
        let states = prompts.map { _ in SequenceState(model: model) }
        return try generate(states: states, appending: prompts, params: params, onToken: onToken)
    }

    /// Appends `appending[i]` to sequence i and generates its continuation.
    /// States keep everything for the next call.
    /// `streams[i]` overrides sequence i's random stream (default
    /// params.firstStream + i).
    public func generate(states: [SequenceState], appending: [[Int32]], params: GenerationParams,
                         streams: [UInt64]? = nil, onToken: TokenCallback? = nil) throws -> [Generation] {
        if let streams, streams.count != states.count {
            throw ScoreError.invalidArgument("\(streams.count) random streams for \(states.count) sequences")
        }
        try params.sampling.validate()
        guard params.maxNewTokens >= 0 else { throw ScoreError.invalidArgument("max_new_tokens \(params.maxNewTokens) is negative") }
        guard states.count == appending.count else {
            throw ScoreError.invalidArgument("\(states.count) sequences but \(appending.count) token lists to append")
        }
        guard states.count <= GenerationLimits.maxSequences else {
            throw ScoreError.invalidArgument("\(states.count) sequences in one call; at most \(GenerationLimits.maxSequences)")
        }
        if params.maxNewTokens > 0 {
            // What the decoder reserves below: min(context, tokens + max_new_tokens) per sequence.
            try GenerationLimits.checkMemory(
                model: model,
                tokensPerSequence: zip(states, appending).map { s, extra in
                    let (t, o) = (s.tokens.count + extra.count).addingReportingOverflow(params.maxNewTokens)
                    return o ? Int.max : t
                },
                what: "generate")
        }
        guard Set(states.map { ObjectIdentifier($0) }).count == states.count else {
            throw ScoreError.invalidArgument("a sequence appears twice in one call")
        }
        for (i, (state, extra)) in zip(states, appending).enumerated() {
            let all = state.tokens + extra
            do { try model.validate(tokens: all) } catch let e as ScoreError {
                throw ScoreError.invalidArgument("prompt \(i): \(e.message)")
            }
            guard all.count > state.cache.count else {
                throw ScoreError.invalidArgument("sequence \(i): nothing to continue from (no new tokens)")
            }
        }
        var results = [Generation](repeating: Generation(), count: states.count)
        if states.isEmpty || params.maxNewTokens == 0 { return results }
        for (state, extra) in zip(states, appending) { state.tokens += extra }
        let stopIds = Set(params.stopTokenIds ?? model.config.eosTokenIds.map { Int32($0) })
        let V = model.config.vocabSize
        let context = model.contextLength

        // Identical histories (tokens and cached length) share one prefill.
        var leaderOf: [[Int32]: Int] = [:]
        var leaders: [Int] = []
        var rowOf: [Int] = []
        for (i, s) in states.enumerated() {
            let key = s.tokens + [Int32(-1 - s.cache.count)]
            if let l = leaderOf[key] {
                rowOf.append(l)
            } else {
                leaderOf[key] = leaders.count
                rowOf.append(leaders.count)
                leaders.append(i)
            }
        }
        for s in states { s.cache.reserve(min(context, s.tokens.count + params.maxNewTokens)) }
        let pendingCounts = leaders.map { states[$0].pending.count }
        let prefillTokens = leaders.flatMap { Array(states[$0].pending) }
        // One workspace for the prefill and every decoding step: steps allocate nothing.
        let workspace = Transformer.Workspace()
        let hidden = try prefillTokens.withUnsafeBufferPointer {
            try model.transformer.forward(tokens: $0, segments: zip(leaders, pendingCounts).map {
                Transformer.Segment(cache: states[$0].cache, count: $1)
            }, workspace: workspace)
        }
        var lastRows: [Int] = []
        var row = 0
        for n in pendingCounts {
            row += n
            lastRows.append(row - 1)
        }
        var logits = lmHead(hidden: hidden, rows: lastRows, workspace: workspace)
        for (i, s) in states.enumerated() where leaders[rowOf[i]] != i {
            try s.cache.copyPrefix(from: states[leaders[rowOf[i]]].cache)
        }

        var rngs = (0..<states.count).map {
            RandomStream(seed: params.sampling.seed, stream: streams?[$0] ?? params.firstStream + UInt64($0))
        }
        var stopWatch = try StopStringWatch(params.stopStrings, tokenizer: model.tokenizer, sequences: states.count)
        var active = Array(states.indices)
        let pool = ThreadPool.shared
        let scratch = FloatBuffer(count: pool.threads * V, zeroed: false)
        var picks = [SampledToken](repeating: SampledToken(token: 0, logProb: 0), count: states.count)
        while !active.isEmpty {
            // Each sequence samples from its own row with its own stream, so
            // the rows are sampled in parallel (the same draws on any thread);
            // results, callbacks and stop checks then follow in order.
            let parts = min(pool.threads, active.count)
            rngs.withUnsafeMutableBufferPointer { streams in
                picks.withUnsafeMutableBufferPointer { picked in
                    pool.run(parts: parts) { part in
                        // A copy per sequence: sampling clobbers its logits,
                        // and sequences that shared a prefill share one row.
                        let row = scratch.pointer + part * V
                        for j in stride(from: part, to: active.count, by: parts) {
                            let i = active[j]
                            row.update(from: logits.pointer + rowOf[j] * V, count: V)
                            picked[j] = states[i].tokens.withUnsafeBufferPointer {
                                Sampler.sample(logits: row, vocab: V, params: params.sampling, history: $0, rng: &streams[i])
                            }
                        }
                    }
                }
            }
            var stillActive: [Int] = []
            for (j, i) in active.enumerated() {
                let sampled = picks[j]
                results[i].tokens.append(sampled.token)
                results[i].logProbs.append(sampled.logProb)
                states[i].tokens.append(sampled.token)
                if let onToken, !onToken(i, sampled.token) {
                    results[i].finishReason = .aborted
                } else if stopIds.contains(sampled.token) {
                    results[i].finishReason = .stopToken
                } else if try stopWatch.sees(sampled.token, in: i) {
                    results[i].finishReason = .stopString
                } else if results[i].tokens.count >= params.maxNewTokens {
                    results[i].finishReason = .length
                } else if states[i].cache.count + 1 > context {
                    results[i].finishReason = .contextFull
                } else {
                    stillActive.append(i)
                }
            }
            active = stillActive
            if active.isEmpty { break }
            let step = active.map { states[$0].tokens.last! }
            for i in active { states[i].cache.reserve(states[i].cache.count + 1) }
            let h = try step.withUnsafeBufferPointer {
                try model.transformer.forward(tokens: $0, segments: active.map { Transformer.Segment(cache: states[$0].cache, count: 1) },
                                              workspace: workspace)
            }
            logits = lmHead(hidden: h, rows: Array(0..<active.count), workspace: workspace)
            rowOf = Array(0..<active.count)
        }
        return results
    }

    /// Logits [rows.count × vocab] of the given hidden-state rows.
    private func lmHead(hidden: FloatBuffer, rows: [Int], workspace: Transformer.Workspace) -> FloatBuffer {
        let H = model.config.hiddenSize, V = model.config.vocabSize
        let picked = workspace.buffer(.picked, count: rows.count * H)
        for (j, r) in rows.enumerated() {
            (picked.pointer + j * H).update(from: hidden.pointer + r * H, count: H)
        }
        let out = workspace.buffer(.logits, count: rows.count * V)
        // One row per sequence, prefill or decode; a row's logits do not
        // depend on how many others share the step (MatMul's contract).
        model.weights.lmHead.multiply(picked.pointer, rows: rows.count, ldx: H, into: out.pointer, ldo: V,
                                      accumulate: false)
        return out
    }
}

/// Watches each sequence's decoded text for stop strings. Text arrives
/// through a streaming detokenizer (never half a character), and only the
/// last (longest stop string + new piece) characters are searched, so a stop
/// string split across several tokens is still found.
struct StopStringWatch {
    let stops: [String]
    let longest: Int
    var detokenizers: [StreamingDetokenizer] = []
    var tails: [String] = []

    init(_ stops: [String], tokenizer: Tokenizer?, sequences: Int) throws {
        self.stops = stops.filter { !$0.isEmpty }
        longest = self.stops.map(\.count).max() ?? 0
        guard !self.stops.isEmpty else { return }
        guard let tokenizer else { throw ScoreError.invalidArgument("stop strings need the model's tokenizer.json") }
        detokenizers = (0..<sequences).map { _ in StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false) }
        tails = Array(repeating: "", count: sequences)
    }

    mutating func sees(_ token: Int32, in sequence: Int) throws -> Bool {
        guard !stops.isEmpty else { return false }
        let piece = try detokenizers[sequence].push(token)
        if piece.isEmpty { return false }
        let text = tails[sequence] + piece
        if stops.contains(where: { text.contains($0) }) { return true }
        tails[sequence] = String(text.suffix(max(0, longest - 1)))
        return false
    }
}
