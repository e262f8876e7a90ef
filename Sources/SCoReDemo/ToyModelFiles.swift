#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

/// Writes a small Hugging Face model directory from nothing: a character
/// tokenizer with ChatML special tokens and a Llama decoder with random
/// weights. Everything the demo trains starts here, with no downloads; the
/// files are ordinary (transformers and tokenizers load them).
public struct ToyModelFiles: Sendable {
    public var hiddenSize = 128
    public var layers = 4
    public var heads = 4
    public var intermediateSize = 384
    public var maxPositions = 256
    /// Characters the tokenizer knows, one token each (printable ASCII and "\n").
    public var characters: [Character] = ["\n"] + (32...126).map { Character(Unicode.Scalar(UInt8($0))) }
    /// Words that get a token of their own (the chat roles), to keep conversations short.
    public var words = ["user", "assistant"]
    public static let turnStart = "<|im_start|>"
    public static let turnEnd = "<|im_end|>"

    public init() {}

    public var vocabulary: [String] {
        [Self.turnStart, Self.turnEnd] + words + characters.map { String($0) }
    }

    /// Writes tokenizer.json, tokenizer_config.json, config.json,
    /// generation_config.json and model.safetensors into `dir` (atomically).
    public func write(to dir: String, seed: UInt64) throws {
        try AtomicDirectory.write(dir) { tmp in
            try writeText(Files.join(tmp, "tokenizer.json"), try tokenizerJSON().serialized())
            try writeText(Files.join(tmp, "tokenizer_config.json"), try tokenizerConfigJSON().serialized())
            try writeText(Files.join(tmp, "config.json"), try configJSON().serialized())
            try writeText(Files.join(tmp, "generation_config.json"),
                          try JSON.object([("eos_token_id", .int(1)), ("do_sample", .bool(false))]).serialized())
            try writeWeights(Files.join(tmp, "model.safetensors"), seed: seed)
        }
    }

    private func writeText(_ path: String, _ text: String) throws {
        let f = try OutputFile(path: path)
        try f.write(text)
        try f.close()
    }

    func tokenizerJSON() -> JSON {
        let vocab = vocabulary
        var table = JSONObject()
        for (i, t) in vocab.enumerated() { table.set(t, .int(Int64(i))) }
        let added: [JSON] = vocab.prefix(2 + words.count).enumerated().map { i, t in
            .object([("id", .int(Int64(i))), ("content", .string(t)), ("single_word", .bool(false)),
                     ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(false)),
                     ("special", .bool(i < 2))])
        }
        return .object([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
            ("added_tokens", .array(added)),
            ("normalizer", .null), ("pre_tokenizer", .null), ("post_processor", .null),
            ("decoder", .object([("type", .string("Fuse"))])),  // characters join without spaces
            ("model", .object([("type", .string("BPE")), ("dropout", .null), ("unk_token", .null),
                               ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null),
                               ("fuse_unk", .bool(false)), ("byte_fallback", .bool(false)), ("ignore_merges", .bool(false)),
                               ("vocab", .object(table)), ("merges", .array([]))])),
        ])
    }

    static let chatML = """
    {% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
    """

    func tokenizerConfigJSON() -> JSON {
        .object([("tokenizer_class", .string("PreTrainedTokenizerFast")), ("eos_token", .string(Self.turnEnd)),
                 ("pad_token", .string(Self.turnEnd)), ("bos_token", .null), ("add_bos_token", .bool(false)),
                 ("model_max_length", .int(Int64(maxPositions))), ("chat_template", .string(Self.chatML))])
    }

    func configJSON() -> JSON {
        .object([
            ("architectures", .array([.string("LlamaForCausalLM")])), ("model_type", .string("llama")),
            ("vocab_size", .int(Int64(vocabulary.count))), ("hidden_size", .int(Int64(hiddenSize))),
            ("intermediate_size", .int(Int64(intermediateSize))), ("num_hidden_layers", .int(Int64(layers))),
            ("num_attention_heads", .int(Int64(heads))), ("num_key_value_heads", .int(Int64(heads))),
            ("max_position_embeddings", .int(Int64(maxPositions))), ("rms_norm_eps", .double(1e-5)),
            ("rope_theta", .double(10000)), ("hidden_act", .string("silu")), ("tie_word_embeddings", .bool(true)),
            ("attention_bias", .bool(false)), ("mlp_bias", .bool(false)), ("eos_token_id", .int(1)),
            ("bos_token_id", .null), ("torch_dtype", .string("float32")),
        ])
    }

    /// transformers' Llama initialisation: N(0, 0.02) matrices and embeddings, unit norms.
    private func writeWeights(_ path: String, seed: UInt64) throws {
        let h = hiddenSize, v = vocabulary.count, f = intermediateSize
        var rng = TrainingRNG(seed: seed)
        var buffers: [(String, [Int], FloatBuffer)] = []
        func normal(_ name: String, _ shape: [Int]) {
            let count = shape.reduce(1, *)
            let b = FloatBuffer(count: count, zeroed: false)
            for i in 0..<count {
                // Box–Muller: one draw per value is plenty here.
                let u1 = max(rng.nextUniform(), 1e-300), u2 = rng.nextUniform()
                b.pointer[i] = Float(0.02 * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
            }
            buffers.append((name, shape, b))
        }
        func ones(_ name: String, _ n: Int) {
            let b = FloatBuffer(count: n, zeroed: false)
            b.pointer.initialize(repeating: 1, count: n)
            buffers.append((name, [n], b))
        }
        normal("model.embed_tokens.weight", [v, h])
        for i in 0..<layers {
            let p = "model.layers.\(i)."
            ones(p + "input_layernorm.weight", h)
            for name in ["q_proj", "k_proj", "v_proj", "o_proj"] { normal(p + "self_attn.\(name).weight", [h, h]) }
            ones(p + "post_attention_layernorm.weight", h)
            normal(p + "mlp.gate_proj.weight", [f, h])
            normal(p + "mlp.up_proj.weight", [f, h])
            normal(p + "mlp.down_proj.weight", [h, f])
        }
        ones("model.norm.weight", h)
        try SafetensorsWriter.write(path: path, tensors: buffers.map {
            SafetensorsWriter.Tensor(name: $0.0, shape: $0.1, data: UnsafePointer($0.2.pointer))
        })
        withExtendedLifetime(buffers) {}
    }
}
