#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime

/// Greedy decoding against transformers.generate, batching invariance,
/// sampling statistics, stop conditions.
@Suite struct GenerationTests {
    struct Reference {
        let prompts: [[Int32]]
        let outputs: [[Int32]]

        init(model name: String) throws {
            let json = try Files.readJSON(Fixtures.model(name) + "/generation.json")
            func ids(_ key: String) -> [[Int32]] {
                (json[key]?.arrayValue ?? []).map { ($0.arrayValue ?? []).map { Int32($0.intValue ?? -1) } }
            }
            prompts = ids("prompts")
            outputs = ids("outputs")
        }
    }

    /// A session called again from its own token callback fails that inner
    /// call at once (it used to deadlock through the bindings).
    @Test func reentrantCallIsAnError() throws {
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        let session = Session(model: model, seed: 0)
        var inner: ScoreError? = nil
        let params = GenerationParams(maxNewTokens: 4, sampling: .greedy, stopTokenIds: [])
        let out = try session.generate(prompts: [[1, 2, 3]], params: params) { _, _ in
            do { _ = try session.generate(prompts: [[4]], params: params) } catch { inner = error as? ScoreError }
            return false
        }
        #expect(out[0].finishReason == .aborted)
        #expect(inner?.statusCode == 1 && inner!.message.contains("already generating"), "\(String(describing: inner))")
        #expect(try session.generate(prompts: [[1, 2, 3]], params: params)[0].tokens.count == 4)
    }

    @Test(arguments: Fixtures.allModels)
    func greedyMatchesTransformersOneAtATime(model name: String) throws {
        let model = try Model.load(directory: Fixtures.model(name))
        let ref = try Reference(model: name)
        #expect(ref.prompts.count == 3)
        for (prompt, expected) in zip(ref.prompts, ref.outputs) {
            let out = try Generator(model: model).generate(prompts: [prompt], params: GenerationParams(maxNewTokens: 64, sampling: .greedy))
            #expect(out[0].tokens == expected, "\(name) prompt of \(prompt.count)")
            #expect(out[0].finishReason == (expected.count < 64 ? .stopToken : .length))
        }
    }

    @Test(arguments: Fixtures.allModels)
    func greedyBatchedEqualsTransformers(model name: String) throws {
        let model = try Model.load(directory: Fixtures.model(name))
        let ref = try Reference(model: name)
        // Different lengths in one batch, plus a duplicate prompt (shared prefill).
        let prompts = ref.prompts + [ref.prompts[1]]
        let out = try Generator(model: model).generate(prompts: prompts, params: GenerationParams(maxNewTokens: 64, sampling: .greedy))
        for (i, expected) in (ref.outputs + [ref.outputs[1]]).enumerated() {
            #expect(out[i].tokens == expected, "\(name) sequence \(i)")
        }
    }

    @Test func logProbsAreTemperatureScaledModelLogProbs() throws {
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        let prompt: [Int32] = [5, 17, 99, 3]
        let t: Float = 0.7
        let params = GenerationParams(maxNewTokens: 6, sampling: SamplingParams(temperature: t, topK: 20, seed: 9))
        let g = try Generator(model: model).generate(prompts: [prompt], params: params)[0]
        // Recompute each token's log-prob from scratch with scoring at T.
        var sequence = prompt
        for (token, lp) in zip(g.tokens, g.logProbs) {
            let z = try model.lastLogits(tokens: sequence).map { $0 / t }
            let lse = z.withUnsafeBufferPointer { Softmax.logSumExp($0.baseAddress!, count: $0.count) }
            #expect(abs((z[Int(token)] - lse) - lp) < 1e-4)
            sequence.append(token)
        }
    }

    @Test func samplingIsReproducibleAndIndependentOfBatch() throws {
        let model = try Model.load(directory: Fixtures.model("llama-gqa"))
        let a: [Int32] = [4, 8, 15], b: [Int32] = [16, 23, 42, 7]
        let params = GenerationParams(maxNewTokens: 20, sampling: SamplingParams(temperature: 1, seed: 77))
        let together = try Generator(model: model).generate(prompts: [a, b, a], params: params)
        let again = try Generator(model: model).generate(prompts: [a, b, a], params: params)
        #expect(together == again)
        // Sequence 1 alone, given its stream index, samples the same tokens.
        var single = params
        single.firstStream = 1
        let alone = try Generator(model: model).generate(prompts: [b], params: single)
        #expect(alone[0] == together[1])
        // Two samples of one prompt differ (different streams), so rollouts are samples.
        #expect(together[0].tokens != together[2].tokens)
    }

    /// More sequences than the streaming kernel takes at once (an RL rollout
    /// decodes a hundred): each still samples the tokens it samples alone,
    /// for F32 and BF16 weights. Decoding steps stream every row through the
    /// same kernel; the prefill of 30 prompts together goes through sgemm
    /// where one short prompt alone does not, so log-probs may differ in
    /// the last bit.
    @Test(arguments: ["llama-gqa", "qwen2-bf16"])
    func largeBatchesSampleWhatEachSequenceSamplesAlone(model name: String) throws {
        let model = try Model.load(directory: Fixtures.model(name))
        let vocab = model.config.vocabSize
        let prompts: [[Int32]] = (0..<30).map { i in (0...(i % 5)).map { Int32((i * 31 + $0 * 7 + 3) % vocab) } }
        let params = GenerationParams(maxNewTokens: 12, sampling: SamplingParams(temperature: 1, seed: 5), stopTokenIds: [])
        let together = try Generator(model: model).generate(prompts: prompts, params: params)
        for i in [0, 13, 24, 29] {
            var single = params
            single.firstStream = UInt64(i)
            let alone = try Generator(model: model).generate(prompts: [prompts[i]], params: single)[0]
            #expect(alone.tokens == together[i].tokens, "sequence \(i) of \(name)")
            #expect(alone.finishReason == together[i].finishReason)
            #expect(maxAbsDiff(alone.logProbs, together[i].logProbs) < 1e-5, "sequence \(i) of \(name)")
        }
    }

    @Test func stopConditions() throws {
        let model = try Model.load(directory: Fixtures.model("llama-gqa"))
        let gen = Generator(model: model)
        let prompt: [Int32] = [9, 10, 11]
        #expect(try gen.generate(prompts: [prompt], params: GenerationParams(maxNewTokens: 0))[0].tokens.isEmpty)
        // A stop id that greedy decoding produces ends the sequence, kept as last token.
        let free = try gen.generate(prompts: [prompt], params: GenerationParams(maxNewTokens: 10, sampling: .greedy, stopTokenIds: []))[0]
        let stop = free.tokens[4]
        let stopped = try gen.generate(prompts: [prompt], params: GenerationParams(maxNewTokens: 10, sampling: .greedy, stopTokenIds: [stop]))[0]
        #expect(stopped.finishReason == .stopToken && stopped.tokens.last == stop && stopped.tokens.count <= 5)
        // The callback stops a sequence at its first token.
        let aborted = try gen.generate(prompts: [prompt], params: GenerationParams(maxNewTokens: 10), onToken: { _, _ in false })[0]
        #expect(aborted.tokens.count == 1 && aborted.finishReason == .aborted)
        // A prompt that fills the context gets one token, then contextFull.
        let limited = try Model.load(directory: Fixtures.model("llama-gqa"), options: LoadOptions(maxContext: 8))
        let full = try Generator(model: limited).generate(prompts: [[Int32](repeating: 7, count: 8)], params: GenerationParams(maxNewTokens: 5, sampling: .greedy))[0]
        #expect(full.tokens.count == 1 && full.finishReason == .contextFull)
        let near = try Generator(model: limited).generate(prompts: [[Int32](repeating: 7, count: 6)], params: GenerationParams(maxNewTokens: 5, sampling: .greedy, stopTokenIds: []))[0]
        #expect(near.tokens.count == 3 && near.finishReason == .contextFull)
    }

    @Test func badInput() throws {
        let model = try Model.load(directory: Fixtures.model("llama-gqa"))
        let gen = Generator(model: model)
        #expect(throws: ScoreError.self) { try gen.generate(prompts: [[]], params: GenerationParams()) }
        #expect(throws: ScoreError.self) { try gen.generate(prompts: [[Int32](repeating: 1, count: 513)], params: GenerationParams()) }
        for bad in [SamplingParams(temperature: -1), SamplingParams(topP: 0), SamplingParams(topP: 1.5),
                    SamplingParams(topK: -1), SamplingParams(minP: 2), SamplingParams(repetitionPenalty: 0),
                    SamplingParams(temperature: .nan)] {
            #expect(throws: ScoreError.self) { try gen.generate(prompts: [[1, 2]], params: GenerationParams(sampling: bad)) }
        }
        #expect(throws: ScoreError.self) { try gen.generate(prompts: [[1, 2]], params: GenerationParams(maxNewTokens: -1)) }
    }
}

/// The sampler's empirical frequencies against the filtered softmax,
/// computed independently here (the warpers as transformers defines them).
@Suite struct SamplerStatisticsTests {
    static let logits: [Float] = [2.0, 1.6, 1.5, 1.2, 0.9, 0.3, 0.2, -0.1, -0.5, -1.0, -1.2, -2.0, -3.0, 0.0, 1.0, 1.9]

    static func expected(_ p: SamplingParams) -> [Double] {
        let t = Double(p.temperature)
        var probs = logits.map { Glibc.exp(Double($0) / t) }
        var total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        let order = probs.indices.sorted { probs[$0] > probs[$1] }
        var keep = Set(order)
        if p.topK > 0 { keep = Set(order.prefix(p.topK)) }
        if p.topP < 1 {
            let kept = order.filter { keep.contains($0) }
            let mass = kept.reduce(0) { $0 + probs[$1] }
            var cumulative = 0.0
            var chosen = Set<Int>()
            for i in kept {
                chosen.insert(i)
                cumulative += probs[i] / mass
                if cumulative >= Double(p.topP) { break }
            }
            keep = chosen
        }
        if p.minP > 0 {
            let top = keep.map { probs[$0] }.max()!
            keep = keep.filter { probs[$0] >= Double(p.minP) * top }
        }
        var out = probs.indices.map { keep.contains($0) ? probs[$0] : 0 }
        total = out.reduce(0, +)
        out = out.map { $0 / total }
        return out
    }

    @Test(arguments: [
        SamplingParams(temperature: 1, seed: 1),
        SamplingParams(temperature: 0.6, seed: 2),
        SamplingParams(temperature: 1.3, topK: 4, seed: 3),
        SamplingParams(temperature: 1, topP: 0.8, seed: 4),
        SamplingParams(temperature: 0.9, minP: 0.3, seed: 5),
        SamplingParams(temperature: 1.1, topK: 10, topP: 0.9, minP: 0.05, seed: 6),
    ])
    func frequenciesMatchFilteredSoftmax(params: SamplingParams) {
        let draws = 40_000
        var counts = [Int](repeating: 0, count: Self.logits.count)
        var rng = RandomStream(seed: params.seed, stream: 0)
        var buffer = Self.logits
        for _ in 0..<draws {
            buffer = Self.logits
            let s = buffer.withUnsafeMutableBufferPointer { b in
                [Int32]().withUnsafeBufferPointer { h in
                    Sampler.sample(logits: b.baseAddress!, vocab: b.count, params: params, history: h, rng: &rng)
                }
            }
            counts[Int(s.token)] += 1
        }
        let want = Self.expected(params)
        var tv = 0.0
        for i in want.indices {
            let got = Double(counts[i]) / Double(draws)
            if want[i] == 0 { #expect(counts[i] == 0, "token \(i) should be filtered out") }
            tv += abs(got - want[i])
        }
        tv /= 2
        // Sampling noise with 40k draws over 16 tokens: TV ≈ 0.005; a wrong
        // filter or temperature moves it well past 0.02.
        #expect(tv < 0.015, "total variation \(tv) for \(params)")
    }

    @Test func repetitionPenaltyFollowsTransformers() {
        // With penalty 2 a seen token with logit 2 becomes 1, one with -1 becomes -2.
        var logits: [Float] = [2, 1.5, -1, 0]
        let history: [Int32] = [0, 2]
        var rng = RandomStream(seed: 0, stream: 0)
        let s = logits.withUnsafeMutableBufferPointer { b in history.withUnsafeBufferPointer { h in
            Sampler.sample(logits: b.baseAddress!, vocab: 4, params: SamplingParams(temperature: 0, repetitionPenalty: 2), history: h, rng: &rng)
        } }
        #expect(s.token == 1)
        // The reported log-prob is the unpenalised model's.
        let raw: [Float] = [2, 1.5, -1, 0]
        let lse = Glibc.log(raw.map { Glibc.exp(Double($0)) }.reduce(0, +))
        #expect(abs(Double(s.logProb) - (1.5 - lse)) < 1e-5)
    }

    /// Subnormal temperatures and penalties used to turn finite logits into
    /// infinities: token 0 and NaN log-probs, silently. They are rejected.
    @Test(arguments: [
        SamplingParams(temperature: 1e-40), SamplingParams(temperature: Float.leastNonzeroMagnitude),
        SamplingParams(temperature: 9e-6), SamplingParams(repetitionPenalty: 1e-45),
        SamplingParams(repetitionPenalty: 0.009), SamplingParams(repetitionPenalty: 101),
    ])
    func underflowingParametersAreRejected(params: SamplingParams) throws {
        #expect(throws: ScoreError.self) { try params.validate() }
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        #expect(throws: ScoreError.self) {
            try Session(model: model, seed: 0).generate(prompts: [[1, 2, 3]], params: GenerationParams(maxNewTokens: 2, sampling: params))
        }
    }

    /// Every sampling path gives finite log-probs from finite logits and
    /// accepted parameters, even at the edges (huge logits, smallest
    /// temperature, strongest penalties).
    @Test func acceptedParametersNeverGiveNaN() throws {
        let edges: [SamplingParams] = [
            SamplingParams(temperature: 0), SamplingParams(temperature: 1e-5),
            SamplingParams(temperature: 1e-5, topK: 3), SamplingParams(temperature: 1e-5, topP: 0.5, minP: 0.2),
            SamplingParams(temperature: 1e-5, repetitionPenalty: 0.01), SamplingParams(temperature: 1, repetitionPenalty: 100),
            SamplingParams(temperature: 0, repetitionPenalty: 0.01), SamplingParams(temperature: 1e-5, topK: 2, repetitionPenalty: 0.01),
        ]
        let big = Float.greatestFiniteMagnitude
        for params in edges {
            try params.validate()
            for logits in [[3e38, -3e38, 1, big, -big, 0], [2, 1.5, -1, 0, 1e-3, -7]] as [[Float]] {
                for history in [[], [0, 1, 3]] as [[Int32]] {
                    var rng = RandomStream(seed: 1, stream: 0)
                    var b = logits
                    let s = b.withUnsafeMutableBufferPointer { b in history.withUnsafeBufferPointer { h in
                        Sampler.sample(logits: b.baseAddress!, vocab: b.count, params: params, history: h, rng: &rng)
                    } }
                    #expect(!s.logProb.isNaN && s.logProb <= 0, "\(params) \(logits) \(history): \(s)")
                }
            }
        }
    }
}

@Suite struct StopStringTests {
    @Test func stopStringAcrossTokenBoundaries() throws {
        let model = try Model.load(directory: Fixtures.model("qwen2-chat"))
        let tokenizer = try #require(model.tokenizer)
        let prompt = try tokenizer.encode("Tell me a story about numbers 123", addSpecialTokens: false)
        let free = try Generator(model: model).generate(prompts: [prompt], params: GenerationParams(maxNewTokens: 40, sampling: .greedy, stopTokenIds: []))[0]
        // Pieces as streamed; pick a boundary between two clean pieces.
        let pieces = try free.tokens.map { try tokenizer.decode([$0]) }
        func clean(_ i: Int) -> Bool {
            let pair: String = pieces[i] + pieces[i + 1]
            return !pieces[i].isEmpty && !pieces[i + 1].isEmpty && !pair.contains("\u{FFFD}")
        }
        let k = try #require((1..<(pieces.count - 1)).first(where: clean))
        let stop = String(pieces[k].last!) + String(pieces[k + 1].first!)
        var params = GenerationParams(maxNewTokens: 40, sampling: .greedy, stopTokenIds: [])
        params.stopStrings = ["never-appears-\u{1F600}", stop]
        let stopped = try Generator(model: model).generate(prompts: [prompt], params: params)[0]
        #expect(stopped.finishReason == .stopString)
        #expect(Array(free.tokens.prefix(stopped.tokens.count)) == stopped.tokens)
        let text = try tokenizer.decode(stopped.tokens)
        #expect(text.contains(stop))
        #expect(!(try tokenizer.decode(Array(stopped.tokens.dropLast()))).contains(stop))
        #expect(stopped.tokens.count <= k + 2)
    }

    @Test func stopStringsNeedATokenizer() throws {
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        var params = GenerationParams(maxNewTokens: 4)
        params.stopStrings = ["x"]
        #expect(throws: ScoreError.self) { try Generator(model: model).generate(prompts: [[1, 2]], params: params) }
        params.stopStrings = [""]  // empty stop strings are ignored
        #expect(try Generator(model: model).generate(prompts: [[1, 2]], params: params)[0].tokens.count > 0)
    }
}

@Suite struct ConcurrentSessionTests {
    /// Sessions over one model on several threads at once give the results
    /// each gives alone (the model is immutable; sessions own their state).
    @Test func sessionsShareAModelAcrossThreads() async throws {
        let model = try Model.load(directory: Fixtures.model("qwen3"))
        let prompts: [[Int32]] = [[1, 2, 3], [9, 8, 7, 6], [5, 5], [100, 3, 44]]
        let params = GenerationParams(maxNewTokens: 24, sampling: SamplingParams(temperature: 0.9, topK: 30))
        let alone = try prompts.enumerated().map { i, p in
            try Session(model: model, seed: UInt64(i)).generate(prompts: [p, p], params: params)
        }
        let together = try await withThrowingTaskGroup(of: (Int, [Generation]).self) { group in
            for (i, p) in prompts.enumerated() {
                group.addTask { (i, try Session(model: model, seed: UInt64(i)).generate(prompts: [p, p], params: params)) }
            }
            var out = [[Generation]](repeating: [], count: prompts.count)
            for try await (i, g) in group { out[i] = g }
            return out
        }
        #expect(together == alone)
    }
}
