/// The decoder families we run. They share one forward pass and differ in a
/// few switches (biases, q/k norms, sliding window), read from config.json.
public enum Architecture: String, Sendable, CaseIterable {
    case llama = "LlamaForCausalLM"
    case mistral = "MistralForCausalLM"
    case qwen2 = "Qwen2ForCausalLM"
    case qwen3 = "Qwen3ForCausalLM"
}

/// How rotary frequencies are rescaled for long contexts (`rope_scaling`).
public enum RopeScaling: Sendable, Equatable {
    case none
    /// Positions divided by `factor` (equivalently, frequencies).
    case linear(factor: Double)
    /// Llama 3.1's piecewise rescaling of frequencies by wavelength.
    case llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositions: Int)
}

/// Everything in `config.json` (and `generation_config.json`) that changes the
/// maths. Fields we do not implement are rejected by name, never ignored.
public struct ModelConfig: Sendable {
    public var architecture: Architecture
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabSize: Int
    public var maxPositions: Int
    public var rmsNormEps: Float
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling
    public var tieWordEmbeddings: Bool
    /// q/k/v projections carry a bias (Qwen2 always; Llama/Qwen3 with attention_bias).
    public var qkvBias: Bool
    /// o_proj carries a bias (Llama/Qwen3 with attention_bias).
    public var outputBias: Bool
    /// gate/up/down carry a bias (Llama mlp_bias).
    public var mlpBias: Bool
    /// RMSNorm over head_dim on queries and keys before RoPE (Qwen3).
    public var qkNorm: Bool
    /// Keys further back than this are masked (Mistral's sliding_window).
    public var slidingWindow: Int?
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]
    /// The dtype named in the config (informational; tensors say their own).
    public var declaredDType: String?

    public var qDim: Int { headCount * headDim }
    public var kvDim: Int { kvHeadCount * headDim }
}

extension ModelConfig {
    /// Reads `config.json` and, when present, `generation_config.json` from `dir`.
    public static func load(directory dir: String) throws -> ModelConfig {
        guard Files.isDirectory(dir) else {
            throw ScoreError.io(Files.exists(dir) ? "\(dir): not a directory" : "\(dir): no such directory")
        }
        let path = Files.join(dir, "config.json")
        guard Files.exists(path) else { throw ScoreError.io("\(dir): no config.json") }
        var config = try parse(try Files.readJSON(path), source: path)
        let genPath = Files.join(dir, "generation_config.json")
        if Files.exists(genPath) {
            let gen = try Files.readJSON(genPath)
            let extra = try tokenIds(gen["eos_token_id"], field: "eos_token_id", source: genPath)
            for id in extra where !config.eosTokenIds.contains(id) { config.eosTokenIds.append(id) }
            if config.bosTokenId == nil { config.bosTokenId = try tokenIds(gen["bos_token_id"], field: "bos_token_id", source: genPath).first }
        }
        for id in config.eosTokenIds + (config.bosTokenId.map { [$0] } ?? []) where id >= config.vocabSize {
            throw ScoreError.format("\(path): special token id \(id) is outside the vocabulary (\(config.vocabSize))")
        }
        return config
    }

    public static func parse(_ json: JSON, source: String) throws -> ModelConfig {
        guard case .object = json else { throw ScoreError.format("\(source): config is not a JSON object") }
        func fail(_ m: String) -> ScoreError { .format("\(source): \(m)") }
        func unsupported(_ m: String) -> ScoreError { .unsupported("\(source): \(m)") }

        func int(_ key: String, default def: Int? = nil, range: ClosedRange<Int>) throws -> Int {
            guard let v = json[key], !v.isNull else {
                if let def { return def }
                throw fail("missing '\(key)'")
            }
            guard let i = v.intValue else { throw fail("'\(key)' is not an integer") }
            guard range.contains(i) else { throw fail("'\(key)' = \(i) is outside \(range.lowerBound)...\(range.upperBound)") }
            return i
        }
        func double(_ key: String, in object: JSON? = nil, default def: Double? = nil) throws -> Double {
            guard let v = (object ?? json)[key], !v.isNull else {
                if let def { return def }
                throw fail("missing '\(key)'")
            }
            guard let d = v.doubleValue, d.isFinite else { throw fail("'\(key)' is not a finite number") }
            return d
        }
        func bool(_ key: String, default def: Bool) throws -> Bool {
            guard let v = json[key], !v.isNull else { return def }
            guard let b = v.boolValue else { throw fail("'\(key)' is not a boolean") }
            return b
        }

        // Architecture: `architectures[0]`, falling back to `model_type`.
        let archName: String
        if let names = json["architectures"]?.arrayValue, let first = names.first?.stringValue {
            archName = first
        } else if let type = json["model_type"]?.stringValue {
            let byType = ["llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"]
            archName = byType[type] ?? type
        } else {
            throw fail("missing 'architectures' and 'model_type'")
        }
        guard let arch = Architecture(rawValue: archName) else {
            let known = Architecture.allCases.map(\.rawValue).joined(separator: ", ")
            throw unsupported("architecture '\(archName)' is not supported (supported: \(known))")
        }

        if let q = json["quantization_config"], !q.isNull { throw unsupported("'quantization_config' (quantized checkpoints) is not supported") }
        if let act = json["hidden_act"]?.stringValue ?? json["hidden_activation"]?.stringValue, act != "silu" {
            throw unsupported("hidden_act '\(act)' is not supported (only 'silu')")
        }
        if let f = json["partial_rotary_factor"], !f.isNull, f.doubleValue != 1.0 {
            throw unsupported("partial_rotary_factor \(f) is not supported")
        }
        if let tp = json["pretraining_tp"]?.intValue, tp != 1 {
            Log.write(.debug, "\(source): pretraining_tp = \(tp) only changes how the original was sharded; ignored")
        }

        let hidden = try int("hidden_size", range: 1...65536)
        let heads = try int("num_attention_heads", range: 1...1024)
        let kvHeads = try int("num_key_value_heads", default: heads, range: 1...1024)
        guard heads % kvHeads == 0 else { throw fail("num_attention_heads \(heads) is not a multiple of num_key_value_heads \(kvHeads)") }
        let defaultHeadDim = hidden % heads == 0 ? hidden / heads : nil
        let headDim = try int("head_dim", default: defaultHeadDim, range: 2...1024)
        guard headDim % 2 == 0 else { throw fail("head_dim \(headDim) must be even for rotary embeddings") }
        let layers = try int("num_hidden_layers", range: 1...1024)
        let intermediate = try int("intermediate_size", range: 1...1 << 20)
        let vocab = try int("vocab_size", range: 1...1 << 23)
        let maxPositions = try int("max_position_embeddings", range: 1...1 << 24)
        let eps = try double("rms_norm_eps", default: 1e-6)
        guard eps > 0 else { throw fail("rms_norm_eps must be positive") }

        // Rotary parameters: `rope_theta` + `rope_scaling` (transformers 4.x) or
        // one `rope_parameters` object (transformers 5).
        let ropeParameters = json["rope_parameters"].flatMap { $0.isNull ? nil : $0 }
        if let rp = ropeParameters, rp.objectValue == nil { throw unsupported("'rope_parameters' per layer type is not supported") }
        let theta = try double("rope_theta", in: ropeParameters?["rope_theta"] != nil ? ropeParameters : nil,
                               default: arch == .qwen2 || arch == .qwen3 ? 1_000_000 : 10_000)
        guard theta > 0 else { throw fail("rope_theta must be positive") }
        let scalingJSON = ropeParameters ?? json["rope_scaling"].flatMap { $0.isNull ? nil : $0 }
        var scaling = RopeScaling.none
        if let s = scalingJSON {
            guard s.objectValue != nil else { throw fail("'rope_scaling' is not an object") }
            let type = s["rope_type"]?.stringValue ?? s["type"]?.stringValue ?? "default"
            switch type {
            case "default":
                break
            case "linear":
                let factor = try double("factor", in: s)
                guard factor > 0 else { throw fail("rope_scaling factor must be positive") }
                scaling = .linear(factor: factor)
            case "llama3":
                let factor = try double("factor", in: s)
                let low = try double("low_freq_factor", in: s)
                let high = try double("high_freq_factor", in: s)
                guard let original = s["original_max_position_embeddings"]?.intValue, original > 0 else {
                    throw fail("rope_scaling llama3 needs 'original_max_position_embeddings'")
                }
                guard factor > 0, low > 0, high > low else { throw fail("rope_scaling llama3 needs factor > 0 and high_freq_factor > low_freq_factor > 0") }
                scaling = .llama3(factor: factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: original)
            default:
                throw unsupported("rope_scaling type '\(type)' is not supported (supported: default, linear, llama3)")
            }
        }

        let attentionBias = try bool("attention_bias", default: false)
        var sliding: Int? = nil
        switch arch {
        case .mistral:
            if let w = json["sliding_window"], !w.isNull {
                guard let v = w.intValue, v > 0 else { throw fail("'sliding_window' must be a positive integer or null") }
                sliding = v
            }
        case .qwen2, .qwen3:
            if try bool("use_sliding_window", default: false) {
                throw unsupported("use_sliding_window = true is not supported for \(arch.rawValue)")
            }
        case .llama:
            break
        }
        if let types = json["layer_types"]?.arrayValue {
            for t in types where t.stringValue != "full_attention" && !(arch == .mistral && t.stringValue == "sliding_attention") {
                throw unsupported("layer type \(t) is not supported")
            }
        }

        let eos = try tokenIds(json["eos_token_id"], field: "eos_token_id", source: source)
        let bos = try tokenIds(json["bos_token_id"], field: "bos_token_id", source: source).first

        return ModelConfig(
            architecture: arch,
            hiddenSize: hidden,
            intermediateSize: intermediate,
            layerCount: layers,
            headCount: heads,
            kvHeadCount: kvHeads,
            headDim: headDim,
            vocabSize: vocab,
            maxPositions: maxPositions,
            rmsNormEps: Float(eps),
            ropeTheta: theta,
            ropeScaling: scaling,
            tieWordEmbeddings: try bool("tie_word_embeddings", default: false),
            qkvBias: arch == .qwen2 ? true : attentionBias,
            outputBias: arch == .qwen2 ? false : attentionBias,
            mlpBias: arch == .llama ? try bool("mlp_bias", default: false) : false,
            qkNorm: arch == .qwen3,
            slidingWindow: sliding,
            bosTokenId: bos,
            eosTokenIds: eos,
            declaredDType: json["torch_dtype"]?.stringValue ?? json["dtype"]?.stringValue
        )
    }

    /// A token id field: absent, null, an integer, or a list of integers.
    static func tokenIds(_ value: JSON?, field: String, source: String) throws -> [Int] {
        guard let value, !value.isNull else { return [] }
        let items = value.arrayValue ?? [value]
        return try items.map {
            guard let i = $0.intValue, i >= 0 else { throw ScoreError.format("\(source): '\(field)' must be a non-negative integer or a list of them") }
            return i
        }
    }
}
