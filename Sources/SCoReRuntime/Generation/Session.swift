/// Per-caller generation state over a shared model: the random streams and
/// the seed. A session is used by one thread at a time; any number of
/// sessions may share one `Model` from different threads.
///
/// Successive calls draw fresh random streams (call 2 continues where call 1
/// stopped), so repeated calls sample differently; a new session with the
/// same seed replays the same samples.
public final class Session: @unchecked Sendable {
    public let model: Model
    public let seed: UInt64
    private var nextStream: UInt64 = 0

    public init(model: Model, seed: UInt64) {
        self.model = model
        self.seed = seed
    }

    /// Generates a continuation of each prompt. `params.sampling.seed` is
    /// replaced by the session's seed unless `useParamsSeed` is set.
    public func generate(prompts: [[Int32]], params: GenerationParams, useParamsSeed: Bool = false,
                         onToken: Generator.TokenCallback? = nil) throws -> [Generation] {
        var p = params
        if !useParamsSeed { p.sampling.seed = seed }
        p.firstStream = nextStream
        let result = try Generator(model: model).generate(prompts: prompts, params: p, onToken: onToken)
        nextStream += UInt64(prompts.count)
        return result
    }
}
