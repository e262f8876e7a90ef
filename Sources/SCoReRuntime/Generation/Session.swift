import Synchronization

/// Per-caller generation state over a shared model: the random streams and
/// the seed. A session is used by one thread at a time; any number of
/// sessions may share one `Model` from different threads.
///
/// One call at a time: a call made while another is running on the same
/// session — from its own token callback, or from another thread — throws
/// `.invalidArgument` at once instead of deadlocking or interleaving.
///
/// Successive calls draw fresh random streams (call 2 continues where call 1
/// stopped), so repeated calls sample differently; a new session with the
/// same seed replays the same samples.
public final class Session: @unchecked Sendable {
    public let model: Model
    public let seed: UInt64
    private var nextStream: UInt64 = 0
    private let running = Atomic<Bool>(false)

    public init(model: Model, seed: UInt64) {
        self.model = model
        self.seed = seed
    }

    /// Generates a continuation of each prompt. `params.sampling.seed` is
    /// replaced by the session's seed unless `useParamsSeed` is set.
    public func generate(prompts: [[Int32]], params: GenerationParams, useParamsSeed: Bool = false,
                         onToken: Generator.TokenCallback? = nil) throws -> [Generation] {
        try enter("generate")
        defer { leave() }
        var p = params
        if !useParamsSeed { p.sampling.seed = seed }
        p.firstStream = nextStreamBlock(prompts.count)
        return try Generator(model: model).generate(prompts: prompts, params: p, onToken: onToken)
    }

    /// Marks the session busy; a second call while busy is refused.
    func enter(_ what: String) throws {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw ScoreError.invalidArgument("\(what): this session is already generating (called again from its own token callback, or from another thread at the same time); use another session")
        }
    }

    func leave() { running.store(false, ordering: .releasing) }

    /// Reserves `count` random streams for one call.
    func nextStreamBlock(_ count: Int) -> UInt64 {
        let first = nextStream
        nextStream &+= UInt64(count)
        return first
    }
}

extension Session {
    /// The generate-then-revise loop over this session's model, which must
    /// have a tokenizer; its chat template (or the ChatML fallback) frames
    /// the turns.
    public func selfCorrect(problems: [String], samples: Int, attempts: Int, format: RevisionFormat,
                            params: GenerationParams) throws -> [Rollout] {
        try RevisionLoop.validate(problems: problems.count, samples: samples, attempts: attempts)
        try enter("self-correct")
        defer { leave() }
        guard let tokenizer = model.tokenizer else {
            throw ScoreError.invalidArgument("\(model.directory) has no tokenizer.json; the revise loop works on text")
        }
        let template = try ChatTemplate.load(directory: model.directory)
        let loop = try RevisionLoop(model: model, codec: tokenizer, template: template, format: format)
        var p = params
        p.sampling.seed = seed
        p.firstStream = nextStreamBlock(problems.count * samples * attempts)
        return try loop.run(problems: problems, samples: samples, attempts: attempts, params: p)
    }
}
