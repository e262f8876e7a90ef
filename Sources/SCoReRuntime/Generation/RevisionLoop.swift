/// Text <-> tokens, as the revise loop needs them (the Tokenizer provides it).
public protocol TextCodec {
    func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) throws -> [Int32]
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) throws -> String
}

/// The self-correction instruction of the SCoRe paper for MATH (Appendix C).
public let defaultRevisionInstruction = """
There might be an error in the solution above because of lack of understanding of the question. \
Please correct the error, if any, and rewrite the solution. Only output the final solution! At the end \
of the Solution, when you give your final answer, write it in the form "Final Answer: The final answer \
is $answer$. I hope it is correct."
"""

/// How a problem becomes turn 1, and what is said between attempts.
public struct RevisionFormat: Sendable {
    /// Turn-1 user message; "{problem}" is replaced by the problem text.
    public var taskPrompt = "{problem}"
    /// Optional system message.
    public var systemPrompt: String? = nil
    /// The user message that asks for the next attempt (never says whether
    /// the previous attempt was right).
    public var instruction = defaultRevisionInstruction

    public init(taskPrompt: String = "{problem}", systemPrompt: String? = nil,
                instruction: String = defaultRevisionInstruction) {
        self.taskPrompt = taskPrompt
        self.systemPrompt = systemPrompt
        self.instruction = instruction
    }
}

/// One attempt at a problem: exactly the tokens the model sampled, their
/// log-probs, why it stopped, and its text.
public struct Attempt: Sendable, Equatable {
    public var tokens: [Int32]
    public var logProbs: [Float]
    public var finishReason: FinishReason
    public var text: String

    public init(tokens: [Int32], logProbs: [Float], finishReason: FinishReason, text: String) {
        self.tokens = tokens
        self.logProbs = logProbs
        self.finishReason = finishReason
        self.text = text
    }
}

/// A multi-attempt episode for one sample of one problem. `sequence` is the
/// whole conversation as the model saw it; `lossMask[i]` is 1 where
/// sequence[i] was sampled by the model (attempt tokens, EOS included), 0 for
/// the prompt and the template/instruction tokens between attempts.
public struct Rollout: Sendable, Equatable {
    public var problem: Int
    public var sample: Int
    public var promptTokens: [Int32]
    public var attempts: [Attempt]
    public var sequence: [Int32]
    public var lossMask: [UInt8]
    /// Where attempt a sits in `sequence`.
    public var attemptRanges: [Range<Int>]

    public init(problem: Int, sample: Int, promptTokens: [Int32], attempts: [Attempt], sequence: [Int32],
                lossMask: [UInt8], attemptRanges: [Range<Int>]) {
        self.problem = problem
        self.sample = sample
        self.promptTokens = promptTokens
        self.attempts = attempts
        self.sequence = sequence
        self.lossMask = lossMask
        self.attemptRanges = attemptRanges
    }
}

/// Generate, then revise: for each problem and each of k samples, attempt 1
/// from the turn-1 prompt; then the instruction is appended AS TOKENS after
/// attempt 1's actual tokens (and its KV cache), and attempt 2 is sampled;
/// and so on for N attempts. The conversation is never re-tokenized, so the
/// model is trained on exactly what it saw.
public struct RevisionLoop {
    public let model: Model
    public let codec: TextCodec
    public let template: ChatTemplate
    public let format: RevisionFormat

    /// The glue between attempts, tokenized once: everything the template
    /// puts after an assistant message, the instruction turn, and the
    /// generation prompt of the next assistant turn.
    public let glue: [Int32]

    public init(model: Model, codec: TextCodec, template: ChatTemplate, format: RevisionFormat = RevisionFormat()) throws {
        self.model = model
        self.codec = codec
        self.template = template
        self.format = format
        // Render a conversation whose first answer is a marker; the text after
        // the marker is the glue. The marker cannot occur in a template.
        let marker = "\u{E000}SCORE-ATTEMPT\u{E001}"
        let text = try template.render(messages: Self.turnOne("x", format) + [
            ChatMessage(role: "assistant", content: marker),
            ChatMessage(role: "user", content: format.instruction),
        ], addGenerationPrompt: true)
        guard let range = text.firstRange(of: marker) else {
            throw ScoreError.unsupported("the chat template does not render assistant messages verbatim; cannot build the revision turn")
        }
        glue = try codec.encode(String(text[range.upperBound...]), addSpecialTokens: false, parseSpecial: true)
        guard !glue.isEmpty else { throw ScoreError.invalidArgument("the revision instruction tokenizes to nothing") }
    }

    static func turnOne(_ problem: String, _ format: RevisionFormat) -> [ChatMessage] {
        var messages: [ChatMessage] = []
        if let system = format.systemPrompt { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: format.taskPrompt.replacing("{problem}", with: problem)))
        return messages
    }

    /// Turn-1 prompt tokens of a problem: the rendered template, tokenized
    /// without adding special tokens (the template already has them), as
    /// transformers' apply_chat_template(tokenize=True) does.
    public func promptTokens(_ problem: String) throws -> [Int32] {
        let text = try template.render(messages: Self.turnOne(problem, format), addGenerationPrompt: true)
        return try codec.encode(text, addSpecialTokens: false, parseSpecial: true)
    }

    /// Checks the counts of a revise-loop call up front: samples in
    /// 1...GenerationLimits.maxSamples, attempts in 1...maxAttempts, at least
    /// one problem and problems × samples ≤ maxSequences.
    public static func validate(problems: Int, samples: Int, attempts: Int) throws {
        guard samples >= 1, samples <= GenerationLimits.maxSamples else {
            throw ScoreError.invalidArgument("samples per problem \(samples) is out of range 1...\(GenerationLimits.maxSamples)")
        }
        guard attempts >= 1, attempts <= GenerationLimits.maxAttempts else {
            throw ScoreError.invalidArgument("attempts \(attempts) is out of range 1...\(GenerationLimits.maxAttempts)")
        }
        guard problems >= 1 else { throw ScoreError.invalidArgument("no problems") }
        guard problems <= GenerationLimits.maxSequences / samples else {
            throw ScoreError.invalidArgument("\(problems) problems × \(samples) samples is more than \(GenerationLimits.maxSequences) sequences in one call")
        }
    }

    /// Runs `attempts` attempts for `samples` samples of every problem, all
    /// sequences decoding together. Sample s of problem p uses random stream
    /// p·samples + s (offset by params.firstStream). `progress` hears about
    /// every decoding step (phase `phase`, tokens generated of the most
    /// possible) and may stop the run (`ScoreError.aborted`).
    public func run(problems: [String], samples: Int, attempts: Int, params: GenerationParams,
                    progress: ProgressHandler? = nil, phase: String = "rollout") throws -> [Rollout] {
        try Self.validate(problems: problems.count, samples: samples, attempts: attempts)
        guard params.maxNewTokens >= 0 else { throw ScoreError.invalidArgument("max_new_tokens \(params.maxNewTokens) is negative") }
        let prompts = try problems.map(promptTokens)
        // Every attempt may add max_new_tokens and the glue: the worst case,
        // checked before any sequence state is allocated.
        let perAttempt = params.maxNewTokens.addingReportingOverflow(glue.count)
        let worst = prompts.map { p -> Int in
            let (all, o1) = perAttempt.partialValue.multipliedReportingOverflow(by: attempts)
            let (t, o2) = all.addingReportingOverflow(p.count)
            return perAttempt.overflow || o1 || o2 ? Int.max : t
        }
        try GenerationLimits.checkMemory(model: model, tokensPerSequence: worst.flatMap { [Int](repeating: $0, count: samples) },
                                         what: "the revise loop")
        var rollouts: [Rollout] = []
        var states: [SequenceState] = []
        for (p, prompt) in prompts.enumerated() {
            for s in 0..<samples {
                // The sequence grows by what each turn appends: turn 1 appends the prompt.
                rollouts.append(Rollout(problem: p, sample: s, promptTokens: prompt, attempts: [],
                                        sequence: [], lossMask: [], attemptRanges: []))
                states.append(SequenceState(model: model))
            }
        }
        let generator = Generator(model: model)
        var live = Array(rollouts.indices)  // rollouts that can still take a turn
        let mostTokens = rollouts.count * attempts * params.maxNewTokens
        var generated = 0, stopped = false
        // Every sampled token is reported; after a stop, every sequence ends at its next token.
        let onToken: Generator.TokenCallback? = progress.map { handler in
            { _, _ in
                generated += 1
                if !stopped { stopped = !handler(phase, generated, mostTokens) }
                return !stopped
            }
        }
        for a in 0..<attempts {
            let appending: [[Int32]] = live.map { i in
                if a == 0 { return prompts[rollouts[i].problem] }
                // After an attempt that ended with the template's end-of-turn
                // token, that token is already in the sequence.
                let last = rollouts[i].attempts[a - 1].tokens.last
                return last != nil && last == glue.first ? Array(glue.dropFirst()) : glue
            }
            // Every (rollout, attempt) has its own random stream, whichever
            // rollouts are still live.
            let streams = live.map { params.firstStream &+ UInt64($0 * attempts + a) }
            let out = try generator.generate(states: live.map { states[$0] }, appending: appending,
                                             params: params, streams: streams, onToken: onToken)
            if stopped { throw ScoreError.aborted("stopped by the progress callback during \(phase) (\(generated) of at most \(mostTokens) tokens)") }
            var stillLive: [Int] = []
            for (j, i) in live.enumerated() {
                let g = out[j]
                var r = rollouts[i]
                r.sequence += appending[j]
                r.lossMask += [UInt8](repeating: 0, count: appending[j].count)
                r.attemptRanges.append(r.sequence.count..<(r.sequence.count + g.tokens.count))
                r.sequence += g.tokens
                r.lossMask += [UInt8](repeating: 1, count: g.tokens.count)
                r.attempts.append(Attempt(tokens: g.tokens, logProbs: g.logProbs, finishReason: g.finishReason,
                                          text: try codec.decode(g.tokens, skipSpecialTokens: true)))
                rollouts[i] = r
                // A sequence out of context cannot take another turn.
                if g.finishReason != .contextFull && r.sequence.count + glue.count < model.contextLength {
                    stillLive.append(i)
                }
            }
            live = stillLive
            if live.isEmpty { break }
        }
        return rollouts
    }

}
