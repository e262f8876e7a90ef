import Testing
import SCoReRuntime

/// The generate-then-revise loop: token-in/token-out against transformers'
/// rendering of the whole conversation, and rollouts whose recorded
/// log-probs are exactly those of the sequence they claim.
@Suite struct RevisionLoopTests {
    struct Case {
        let problem: String, answer: String, instruction: String
        let promptIds: [Int32], answerIds: [Int32], fullIds: [Int32]
    }

    static let dir = Fixtures.model("qwen2-chat")

    static func cases() throws -> [Case] {
        let json = try Files.readJSON(dir + "/revision.json")
        func ids(_ v: JSON?) -> [Int32] { (v?.arrayValue ?? []).map { Int32($0.intValue ?? -1) } }
        return (json["cases"]?.arrayValue ?? []).map {
            Case(problem: $0["problem"]?.stringValue ?? "", answer: $0["answer"]?.stringValue ?? "",
                 instruction: $0["instruction"]?.stringValue ?? "",
                 promptIds: ids($0["prompt_ids"]), answerIds: ids($0["answer_ids"]), fullIds: ids($0["full_ids"]))
        }
    }

    static func loop(instruction: String) throws -> (Model, RevisionLoop) {
        let model = try Model.load(directory: dir)
        let tokenizer = try #require(model.tokenizer)
        let loop = try RevisionLoop(model: model, codec: tokenizer, template: ChatTemplate.load(directory: dir),
                                    format: RevisionFormat(instruction: instruction))
        return (model, loop)
    }

    @Test func incrementalSequenceEqualsOneShotTokenization() throws {
        let cases = try Self.cases()
        #expect(cases.count == 2)
        for c in cases {
            let (_, loop) = try Self.loop(instruction: c.instruction)
            #expect(try loop.promptTokens(c.problem) == c.promptIds)
            let imEnd: Int32 = 702
            // Attempt 1 ended with <|im_end|> (as sampled): the glue goes on after it,
            // starting with the newline the template puts after <|im_end|>.
            #expect(loop.glue.first == imEnd)
            let withEOS = c.promptIds + c.answerIds + [imEnd] + loop.glue.dropFirst()
            #expect(withEOS == c.fullIds)
            // Attempt 1 cut off by max_new_tokens: the glue closes the turn itself.
            #expect(c.promptIds + c.answerIds + loop.glue == c.fullIds)
        }
    }

    @Test func rolloutsAreSamplesAndTheirLogProbsMatchTheSequence() throws {
        let (model, loop) = try Self.loop(instruction: defaultRevisionInstruction)
        let params = GenerationParams(maxNewTokens: 10, sampling: SamplingParams(temperature: 1, seed: 3))
        let rollouts = try loop.run(problems: ["What is 2 + 3?", "Compute 12 * 4."], samples: 3, attempts: 2, params: params)
        #expect(rollouts.count == 6)
        for r in rollouts {
            #expect(r.attempts.count == 2)
            #expect(Array(r.sequence.prefix(r.promptTokens.count)) == r.promptTokens)
            let a1 = r.attemptRanges[0], a2 = r.attemptRanges[1]
            #expect(Array(r.sequence[a1]) == r.attempts[0].tokens && Array(r.sequence[a2]) == r.attempts[1].tokens)
            // Between the attempts: exactly the glue (minus a sampled <|im_end|>).
            let between = Array(r.sequence[a1.upperBound..<a2.lowerBound])
            #expect(between == loop.glue || (r.attempts[0].tokens.last == 702 && between == Array(loop.glue.dropFirst())))
            // The loss mask covers the model's own tokens only.
            #expect(r.lossMask.count == r.sequence.count)
            #expect(r.lossMask.enumerated().allSatisfy { i, m in (m == 1) == (a1.contains(i) || a2.contains(i)) })
            // Teacher-forcing the whole sequence gives the sampled log-probs:
            // attempt 2 was generated from problem + attempt 1 + instruction.
            let lp = try model.logProbs(tokens: r.sequence)
            for (a, range) in r.attemptRanges.enumerated() {
                let recomputed = range.map { lp[$0 - 1] }
                #expect(maxAbsDiff(recomputed, r.attempts[a].logProbs) < 1e-4)
            }
        }
        // k samples of a problem are samples, not one argmax repeated.
        let firsts = Set(rollouts.filter { $0.problem == 0 }.map { $0.attempts[0].tokens })
        #expect(firsts.count > 1)
    }

    @Test func threeAttemptsAndBadInput() throws {
        let (_, loop) = try Self.loop(instruction: "Check your work.")
        let params = GenerationParams(maxNewTokens: 5, sampling: SamplingParams(temperature: 0.8, seed: 1))
        let r = try loop.run(problems: ["1+1"], samples: 2, attempts: 3, params: params)
        #expect(r.count == 2 && r.allSatisfy { $0.attempts.count == 3 && $0.attemptRanges.count == 3 })
        #expect(throws: ScoreError.self) { try loop.run(problems: ["x"], samples: 0, attempts: 2, params: params) }
        #expect(throws: ScoreError.self) { try loop.run(problems: ["x"], samples: 1, attempts: 0, params: params) }
        #expect(throws: ScoreError.self) { try loop.run(problems: [], samples: 1, attempts: 2, params: params) }
        var bad = params
        bad.sampling.topP = 0
        #expect(throws: ScoreError.self) { try loop.run(problems: ["x"], samples: 1, attempts: 2, params: bad) }
    }

    /// samples = 2^31 - 1 used to allocate sequence after sequence until the
    /// process died; every count is bounded before anything is allocated.
    @Test func hugeCountsAreRejectedUpFront() throws {
        let (model, loop) = try Self.loop(instruction: "Check your work.")
        let params = GenerationParams(maxNewTokens: 5, sampling: SamplingParams(temperature: 0.8, seed: 1))
        func message(_ body: () throws -> Any) -> String {
            do { _ = try body(); return "no error" } catch let e as ScoreError { return "\(e.statusCode) \(e.message)" } catch { return "\(error)" }
        }
        let session = Session(model: model, seed: 0)
        let format = RevisionFormat(instruction: "Check your work.")
        #expect(message { try session.selfCorrect(problems: ["x"], samples: Int(Int32.max), attempts: 2, format: format, params: params) }
                    .hasPrefix("1 samples per problem 2147483647 is out of range 1...4096"))
        #expect(message { try session.selfCorrect(problems: ["x"], samples: 1, attempts: Int.max, format: format, params: params) }
                    .contains("attempts"))
        #expect(message { try loop.run(problems: [String](repeating: "x", count: 300), samples: 4096, attempts: 1, params: params) }
                    .contains("sequences in one call"))
        // max_new_tokens × sequences beyond the machine's memory: refused, not attempted.
        var long = params
        long.maxNewTokens = Int(Int32.max)
        let budget = GenerationLimits.kvBytesPerToken(model) * model.contextLength * 10
        #expect(throws: ScoreError.self) {
            try GenerationLimits.checkMemory(model: model, tokensPerSequence: [Int](repeating: Int.max, count: 11), what: "test", budget: budget)
        }
        try GenerationLimits.checkMemory(model: model, tokensPerSequence: [Int](repeating: 8, count: 11), what: "test", budget: budget)
        let sequences = GenerationLimits.physicalMemory / (GenerationLimits.kvBytesPerToken(model) * model.contextLength) + 1
        if sequences <= 4096 * 256 {
            let problems = [String](repeating: "x", count: (sequences + 4095) / 4096)
            #expect(message { try loop.run(problems: problems, samples: 4096, attempts: 2, params: long) }.contains("memory"))
            #expect(message { try session.generate(prompts: [[Int32]](repeating: [1, 2], count: min(sequences, 1 << 20)), params: long) }
                        .contains("memory"))
        }
    }
}
