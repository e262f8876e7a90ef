/// Where every named tensor lives inside one flat F32 buffer (llm.c's
/// "one allocation, carved views"). Parameters, gradients and both Adam
/// moments share one layout, so the optimiser walks four flat arrays in step
/// and a tensor's gradient is at the same offset as its value.
public struct ParameterLayout: Sendable {
    public struct Slot: Sendable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var slots: [Slot] = []
    public private(set) var count = 0
    private var index: [String: Int] = [:]

    public init() {}

    /// Appends a tensor; offsets are rounded up to 16 floats (64 bytes) so
    /// every view is as aligned as the buffer.
    public mutating func append(_ name: String, _ shape: [Int]) {
        let slot = Slot(name: name, shape: shape, offset: count)
        index[name] = slots.count
        slots.append(slot)
        count += (slot.count + 15) / 16 * 16
    }

    public func slot(_ name: String) -> Slot? { index[name].map { slots[$0] } }

    public func offset(_ name: String) -> Int? { slot(name)?.offset }

    /// Number of parameters (padding excluded).
    public var parameterCount: Int { slots.reduce(0) { $0 + $1.count } }

    /// Every trainable tensor of a decoder under its Hugging Face name. A tied
    /// LM head is the embedding: it appears once, as the embedding.
    public static func decoder(_ c: ModelConfig) -> ParameterLayout {
        var l = ParameterLayout()
        let h = c.hiddenSize
        l.append("model.embed_tokens.weight", [c.vocabSize, h])
        for i in 0..<c.layerCount {
            let p = "model.layers.\(i)."
            func linear(_ name: String, _ rows: Int, _ cols: Int, bias: Bool) {
                l.append(p + name + ".weight", [rows, cols])
                if bias { l.append(p + name + ".bias", [rows]) }
            }
            l.append(p + "input_layernorm.weight", [h])
            linear("self_attn.q_proj", c.qDim, h, bias: c.qkvBias)
            linear("self_attn.k_proj", c.kvDim, h, bias: c.qkvBias)
            linear("self_attn.v_proj", c.kvDim, h, bias: c.qkvBias)
            linear("self_attn.o_proj", h, c.qDim, bias: c.outputBias)
            if c.qkNorm {
                l.append(p + "self_attn.q_norm.weight", [c.headDim])
                l.append(p + "self_attn.k_norm.weight", [c.headDim])
            }
            l.append(p + "post_attention_layernorm.weight", [h])
            linear("mlp.gate_proj", c.intermediateSize, h, bias: c.mlpBias)
            linear("mlp.up_proj", c.intermediateSize, h, bias: c.mlpBias)
            linear("mlp.down_proj", h, c.intermediateSize, bias: c.mlpBias)
        }
        l.append("model.norm.weight", [h])
        if !c.tieWordEmbeddings { l.append("lm_head.weight", [c.vocabSize, h]) }
        return l
    }
}

/// A projection's tensors: W [rows × cols] and optional bias [rows]. In a
/// gradient view a nil weight means "frozen: do not compute its gradient".
public struct LinearTensors {
    public var weight: UnsafeMutablePointer<Float>?
    public var bias: UnsafeMutablePointer<Float>?
    public let rows: Int
    public let cols: Int

    public init(weight: UnsafeMutablePointer<Float>?, bias: UnsafeMutablePointer<Float>?, rows: Int, cols: Int) {
        (self.weight, self.bias, self.rows, self.cols) = (weight, bias, rows, cols)
    }
}

public struct LayerTensors {
    public var inputNorm: UnsafeMutablePointer<Float>?
    public var q, k, v, o: LinearTensors
    public var qNorm, kNorm: UnsafeMutablePointer<Float>?
    public var postAttentionNorm: UnsafeMutablePointer<Float>?
    public var gate, up, down: LinearTensors
}

/// Pointers to every tensor of a decoder: its weights, or (same shape) its
/// gradients. Views do not own memory; the buffer or `Weights` behind them must live.
public struct DecoderTensors {
    public var embedding: UnsafeMutablePointer<Float>?
    public var layers: [LayerTensors]
    public var finalNorm: UnsafeMutablePointer<Float>?
    public var lmHead: UnsafeMutablePointer<Float>?

    /// Views into `base`, laid out by `layout` (= ParameterLayout.decoder(config)).
    public init(config c: ModelConfig, layout: ParameterLayout, base: UnsafeMutablePointer<Float>) {
        func at(_ name: String) -> UnsafeMutablePointer<Float>? { layout.offset(name).map { base + $0 } }
        func linear(_ p: String, _ rows: Int, _ cols: Int) -> LinearTensors {
            LinearTensors(weight: at(p + ".weight"), bias: at(p + ".bias"), rows: rows, cols: cols)
        }
        let h = c.hiddenSize
        embedding = at("model.embed_tokens.weight")
        layers = (0..<c.layerCount).map { i in
            let p = "model.layers.\(i)."
            return LayerTensors(
                inputNorm: at(p + "input_layernorm.weight"),
                q: linear(p + "self_attn.q_proj", c.qDim, h),
                k: linear(p + "self_attn.k_proj", c.kvDim, h),
                v: linear(p + "self_attn.v_proj", c.kvDim, h),
                o: linear(p + "self_attn.o_proj", h, c.qDim),
                qNorm: at(p + "self_attn.q_norm.weight"),
                kNorm: at(p + "self_attn.k_norm.weight"),
                postAttentionNorm: at(p + "post_attention_layernorm.weight"),
                gate: linear(p + "mlp.gate_proj", c.intermediateSize, h),
                up: linear(p + "mlp.up_proj", c.intermediateSize, h),
                down: linear(p + "mlp.down_proj", h, c.intermediateSize))
        }
        finalNorm = at("model.norm.weight")
        lmHead = c.tieWordEmbeddings ? embedding : at("lm_head.weight")
    }

    /// Read-only views of loaded F32 weights (never written through); a
    /// BF16-resident model is widened first (`Weights.widenedToF32`).
    public init(weights w: Weights) {
        precondition(!w.needsWidening, "DecoderTensors needs row-major F32 weights: widen them first")
        func m(_ p: UnsafePointer<Float>?) -> UnsafeMutablePointer<Float>? { p.map { UnsafeMutablePointer(mutating: $0) } }
        func linear(_ l: Linear) -> LinearTensors {
            LinearTensors(weight: m(l.weight.f32), bias: m(l.bias), rows: l.rows, cols: l.cols)
        }
        embedding = m(w.embedding.f32)
        layers = w.layers.map { l in
            LayerTensors(inputNorm: m(l.inputNorm), q: linear(l.q), k: linear(l.k), v: linear(l.v), o: linear(l.o),
                         qNorm: m(l.qNorm), kNorm: m(l.kNorm), postAttentionNorm: m(l.postAttentionNorm),
                         gate: linear(l.gate), up: linear(l.up), down: linear(l.down))
        }
        finalNorm = m(w.finalNorm)
        lmHead = m(w.lmHead.f32)
    }

    /// A view with every tensor absent: the gradients of a frozen model.
    public static func frozen(like t: DecoderTensors) -> DecoderTensors {
        var g = t
        func none(_ l: LinearTensors) -> LinearTensors { LinearTensors(weight: nil, bias: nil, rows: l.rows, cols: l.cols) }
        g.embedding = nil
        g.finalNorm = nil
        g.lmHead = nil
        g.layers = t.layers.map { l in
            LayerTensors(inputNorm: nil, q: none(l.q), k: none(l.k), v: none(l.v), o: none(l.o), qNorm: nil, kNorm: nil,
                         postAttentionNorm: nil, gate: none(l.gate), up: none(l.up), down: none(l.down))
        }
        return g
    }
}

extension DecoderTensors {
    /// (name, pointer, count) of every tensor in `ParameterLayout.decoder` order;
    /// a tied head is listed once, as the embedding.
    func named(_ c: ModelConfig) -> [(String, UnsafeMutablePointer<Float>?, Int)] {
        var out: [(String, UnsafeMutablePointer<Float>?, Int)] = []
        let h = c.hiddenSize
        out.append(("model.embed_tokens.weight", embedding, c.vocabSize * h))
        for (i, l) in layers.enumerated() {
            let p = "model.layers.\(i)."
            func linear(_ name: String, _ t: LinearTensors) {
                out.append((p + name + ".weight", t.weight, t.rows * t.cols))
                if t.bias != nil { out.append((p + name + ".bias", t.bias, t.rows)) }
            }
            out.append((p + "input_layernorm.weight", l.inputNorm, h))
            linear("self_attn.q_proj", l.q)
            linear("self_attn.k_proj", l.k)
            linear("self_attn.v_proj", l.v)
            linear("self_attn.o_proj", l.o)
            if l.qNorm != nil {
                out.append((p + "self_attn.q_norm.weight", l.qNorm, c.headDim))
                out.append((p + "self_attn.k_norm.weight", l.kNorm, c.headDim))
            }
            out.append((p + "post_attention_layernorm.weight", l.postAttentionNorm, h))
            linear("mlp.gate_proj", l.gate)
            linear("mlp.up_proj", l.up)
            linear("mlp.down_proj", l.down)
        }
        out.append(("model.norm.weight", finalNorm, h))
        if !c.tieWordEmbeddings { out.append(("lm_head.weight", lmHead, c.vocabSize * h)) }
        return out
    }
}
