/// How to load a model directory.
public struct LoadOptions: Sendable {
    /// Map weight files and use F32 tensors in place; otherwise read them into memory.
    public var useMapping = true
    /// Reject sequences longer than this (nil: max_position_embeddings).
    public var maxContext: Int? = nil
    /// Keep BF16 matrices as BF16 (half the memory and half the bytes read
    /// per decoded token); false widens them to F32 at load.
    public var keepBF16 = true
    /// Pack every matrix once into the layout our kernels stream (the
    /// fastest inference). A model loaded only to be trained can skip it:
    /// the trainer reads row-major F32 and would unpack a copy.
    public var pack = true
    /// F32 (default) or BF16 arithmetic for inference (`ComputeMode`); BF16
    /// needs `pack`.
    public var compute: ComputeMode = .f32

    public init(useMapping: Bool = true, maxContext: Int? = nil, keepBF16: Bool = true, pack: Bool = true,
                compute: ComputeMode = .f32) {
        self.useMapping = useMapping
        self.maxContext = maxContext
        self.keepBF16 = keepBF16
        self.pack = pack
        self.compute = compute
    }
}

/// A loaded model: configuration and weights, immutable after `load`, so one
/// instance can serve many threads at once.
public final class Model: @unchecked Sendable {
    public let directory: String
    public let config: ModelConfig
    public let weights: Weights
    public let transformer: Transformer
    /// The longest sequence we accept.
    public let contextLength: Int
    /// The directory's tokenizer.json (with tokenizer_config.json), nil when it has none.
    public let tokenizer: Tokenizer?

    public static func load(directory: String, options: LoadOptions = LoadOptions()) throws -> Model {
        let config = try ModelConfig.load(directory: directory)
        var context = config.maxPositions
        if let limit = options.maxContext {
            guard limit > 0, limit <= config.maxPositions else {
                throw ScoreError.invalidArgument("max_context \(limit) must be in 1...\(config.maxPositions) (max_position_embeddings)")
            }
            context = limit
        }
        guard options.pack || options.compute == .f32 else {
            throw ScoreError.invalidArgument("compute bf16 needs packed weights (pack = true)")
        }
        let loaded = try Weights(config: config, files: try WeightFiles(directory: directory, mapped: options.useMapping),
                                 useMapping: options.useMapping, keepBF16: options.keepBF16)
        let weights = options.pack ? loaded.packed(config: config, compute: options.compute) : loaded
        Log.write(.info, "loaded \(config.architecture.rawValue) from \(directory): \(weights.parameterCount) parameters, \(weights.storedType.rawValue)\(options.pack ? ", packed for \(options.compute.rawValue) compute" : "")")
        let tokenizerPath = Files.join(directory, "tokenizer.json")
        let tokenizer = Files.exists(tokenizerPath) ? try Tokenizer.load(directory: directory) : nil
        return Model(directory: directory, config: config, weights: weights, contextLength: context, tokenizer: tokenizer)
    }

    init(directory: String, config: ModelConfig, weights: Weights, contextLength: Int, tokenizer: Tokenizer? = nil) {
        self.directory = directory
        self.tokenizer = tokenizer
        self.config = config
        self.weights = weights
        self.transformer = Transformer(config: config, weights: weights)
        self.contextLength = contextLength
    }

    /// What this model's KV caches hold: BF16 when it computes in BF16
    /// (`KVCache`), else F32.
    public var kvPrecision: KVCache.Precision { weights.computesInBF16 ? .bf16 : .f32 }

    /// An empty KV cache for this model, room for `capacity` positions (it grows).
    public func makeCache(capacity: Int) -> KVCache {
        KVCache(config: config, capacity: capacity, precision: kvPrecision)
    }

    /// Bytes of weights this model holds: converted copies plus mapped F32 tensors.
    public var bytesInMemory: Int { weights.ownedBytes + weights.mappedBytes }

    /// Throws unless every id is in the vocabulary and the sequence fits the context.
    public func validate(tokens: some Collection<Int32>) throws {
        guard !tokens.isEmpty else { throw ScoreError.invalidArgument("the token sequence is empty") }
        guard tokens.count <= contextLength else {
            throw ScoreError.invalidArgument("\(tokens.count) tokens exceed the context length of \(contextLength)")
        }
        for (i, t) in tokens.enumerated() where t < 0 || Int(t) >= config.vocabSize {
            throw ScoreError.invalidArgument("token id \(t) at position \(i) is outside the vocabulary (0..<\(config.vocabSize))")
        }
    }
}
