/// A weight matrix W [rows × cols] (Hugging Face's [out × in]) with its
/// optional bias [rows]. Pointers stay valid while the owning `Weights` lives.
public struct Linear: @unchecked Sendable {
    public let weight: WeightMatrix
    public let bias: UnsafePointer<Float>?
    public var rows: Int { weight.rows }
    public var cols: Int { weight.cols }

    public init(weight: WeightMatrix, bias: UnsafePointer<Float>?) {
        self.weight = weight
        self.bias = bias
    }
}

public struct LayerWeights: @unchecked Sendable {
    public let inputNorm: UnsafePointer<Float>          // [hidden]
    public let q: Linear                                // [heads·headDim × hidden]
    public let k: Linear                                // [kvHeads·headDim × hidden]
    public let v: Linear                                // [kvHeads·headDim × hidden]
    public let o: Linear                                // [hidden × heads·headDim]
    public let qNorm: UnsafePointer<Float>?             // [headDim] (Qwen3)
    public let kNorm: UnsafePointer<Float>?             // [headDim] (Qwen3)
    public let postAttentionNorm: UnsafePointer<Float>  // [hidden]
    public let gate: Linear                             // [intermediate × hidden]
    public let up: Linear                               // [intermediate × hidden]
    public let down: Linear                             // [hidden × intermediate]
}

/// All parameters of a decoder. F32 tensors are used in place inside the
/// mapped files. BF16 matrices stay BF16 (in place too) unless the loader is
/// asked to widen them; vectors (norms, biases) and F16 tensors are
/// converted once into owned F32 memory.
public final class Weights: @unchecked Sendable {
    public let embedding: WeightMatrix            // [vocab × hidden]
    public let layers: [LayerWeights]
    public let finalNorm: UnsafePointer<Float>   // [hidden]
    public let lmHead: WeightMatrix               // [vocab × hidden]; == embedding when tied
    public let storedType: StorageType
    public let parameterCount: Int
    public let ownedBytes: Int
    public let mappedBytes: Int
    private let keepAlive: [AnyObject]
    private let source: WeightFiles?

    public init(config c: ModelConfig, files: WeightFiles, useMapping: Bool, keepBF16: Bool = true) throws {
        var loader = Loader(files: files, useMapping: useMapping, keepBF16: keepBF16)
        let h = c.hiddenSize
        embedding = try loader.matrix("model.embed_tokens.weight", c.vocabSize, h)
        var layers: [LayerWeights] = []
        for i in 0..<c.layerCount {
            let p = "model.layers.\(i)."
            func linear(_ name: String, _ rows: Int, _ cols: Int, bias: Bool) throws -> Linear {
                Linear(weight: try loader.matrix(p + name + ".weight", rows, cols),
                       bias: bias ? try loader.tensor(p + name + ".bias", [rows]) : nil)
            }
            layers.append(LayerWeights(
                inputNorm: try loader.tensor(p + "input_layernorm.weight", [h]),
                q: try linear("self_attn.q_proj", c.qDim, h, bias: c.qkvBias),
                k: try linear("self_attn.k_proj", c.kvDim, h, bias: c.qkvBias),
                v: try linear("self_attn.v_proj", c.kvDim, h, bias: c.qkvBias),
                o: try linear("self_attn.o_proj", h, c.qDim, bias: c.outputBias),
                qNorm: c.qkNorm ? try loader.tensor(p + "self_attn.q_norm.weight", [c.headDim]) : nil,
                kNorm: c.qkNorm ? try loader.tensor(p + "self_attn.k_norm.weight", [c.headDim]) : nil,
                postAttentionNorm: try loader.tensor(p + "post_attention_layernorm.weight", [h]),
                gate: try linear("mlp.gate_proj", c.intermediateSize, h, bias: c.mlpBias),
                up: try linear("mlp.up_proj", c.intermediateSize, h, bias: c.mlpBias),
                down: try linear("mlp.down_proj", h, c.intermediateSize, bias: c.mlpBias)))
        }
        self.layers = layers
        finalNorm = try loader.tensor("model.norm.weight", [h])
        if c.tieWordEmbeddings {
            lmHead = embedding
            loader.ignore("lm_head.weight")  // some exporters write the tied copy anyway
        } else {
            lmHead = try loader.matrix("lm_head.weight", c.vocabSize, h)
        }
        try loader.rejectUnused(config: c)

        storedType = files.entry("model.embed_tokens.weight")!.entry.type
        parameterCount = loader.parameterCount
        ownedBytes = loader.ownedBytes
        mappedBytes = loader.mappedBytes
        keepAlive = [files] + loader.owned
        source = files
    }

    /// Drops the resident pages of the F32 tensors used in place from the
    /// mapped files; they are read back on the next access. A full
    /// fine-tuning run without a KL term calls this after copying the
    /// weights into its parameter buffer, so they are not held twice.
    public func releaseMappedPages() {
        source?.files.forEach { $0.file.dropResidentPages() }
    }

    /// Weights that live in someone else's memory (a trainer's parameter
    /// buffer), kept alive by `owner`; the generator then samples from the
    /// policy being trained without copying it.
    init(embedding: WeightMatrix, layers: [LayerWeights], finalNorm: UnsafePointer<Float>,
         lmHead: WeightMatrix, parameterCount: Int, ownedBytes: Int, owner: AnyObject,
         storedType: StorageType = .f32) {
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.lmHead = lmHead
        self.storedType = storedType
        self.parameterCount = parameterCount
        self.ownedBytes = ownedBytes
        mappedBytes = 0
        keepAlive = [owner]
        source = nil
    }

    /// True when some matrix is kept as BF16 (a BF16 checkpoint loaded for inference).
    public var keepsBF16: Bool { matrices.contains { $0.isBF16 } }

    /// True unless every matrix is row-major F32 (what the training engine reads).
    public var needsWidening: Bool { matrices.contains { $0.f32 == nil } }

    public var matrices: [WeightMatrix] {
        [embedding, lmHead] + layers.flatMap { l in [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].map(\.weight) }
    }

    /// These weights with every BF16 matrix widened to owned F32 memory
    /// (what the training engine computes on); `self` when nothing is BF16.
    public func widenedToF32() -> Weights {
        guard needsWidening else { return self }
        var buffers: [FloatBuffer] = []
        var added = 0
        func widen(_ m: WeightMatrix) -> WeightMatrix {
            guard let copy = m.widenedCopy() else { return m }
            buffers.append(copy)
            added += copy.bytes - m.bytes
            return WeightMatrix(f32: copy.pointer, rows: m.rows, cols: m.cols)
        }
        func linear(_ l: Linear) -> Linear { Linear(weight: widen(l.weight), bias: l.bias) }
        let e = widen(embedding)
        let tied = embedding.address == lmHead.address
        let head = tied ? e : widen(lmHead)
        let widenedLayers = layers.map { l in
            LayerWeights(inputNorm: l.inputNorm, q: linear(l.q), k: linear(l.k), v: linear(l.v), o: linear(l.o),
                         qNorm: l.qNorm, kNorm: l.kNorm, postAttentionNorm: l.postAttentionNorm,
                         gate: linear(l.gate), up: linear(l.up), down: linear(l.down))
        }
        return Weights(embedding: e, layers: widenedLayers, finalNorm: finalNorm, lmHead: head,
                       parameterCount: parameterCount, ownedBytes: ownedBytes + added,
                       owner: WidenedStorage(buffers: buffers, original: self))
    }

    /// Keeps widened copies and the weights they came from (norms, biases) alive.
    private final class WidenedStorage {
        let buffers: [FloatBuffer]
        let original: Weights
        init(buffers: [FloatBuffer], original: Weights) {
            self.buffers = buffers
            self.original = original
        }
    }

    /// Resolves names to F32 pointers, checking dtype and shape, and records
    /// which tensors were used so leftovers can be reported.
    private struct Loader {
        let files: WeightFiles
        let useMapping: Bool
        let keepBF16: Bool
        var used: Set<String> = []
        var owned: [AnyObject] = []
        var parameterCount = 0
        var ownedBytes = 0
        var mappedBytes = 0

        init(files: WeightFiles, useMapping: Bool, keepBF16: Bool) {
            self.files = files
            self.useMapping = useMapping
            self.keepBF16 = keepBF16
        }

        mutating func ignore(_ name: String) { used.insert(name) }

        /// A matrix: BF16 kept as BF16 (in place when mapped) if `keepBF16`, else as `tensor`.
        mutating func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> WeightMatrix {
            if keepBF16, let (file, entry) = files.entry(name), entry.type == .bf16, entry.shape == [rows, cols] {
                used.insert(name)
                parameterCount += entry.elementCount
                let raw = file.bytes(of: entry)
                if useMapping && file.file.residesInMapping && Int(bitPattern: raw.baseAddress) % 2 == 0,
                   let base = raw.baseAddress {
                    mappedBytes += raw.count
                    return WeightMatrix(.bf16(base.assumingMemoryBound(to: BF16.self)), rows: rows, cols: cols)
                }
                let buffer = BF16Buffer(count: entry.elementCount)
                if let src = raw.baseAddress {
                    UnsafeMutableRawPointer(buffer.pointer).copyMemory(from: src, byteCount: raw.count)
                }
                owned.append(buffer)
                ownedBytes += buffer.bytes
                return WeightMatrix(.bf16(UnsafePointer(buffer.pointer)), rows: rows, cols: cols)
            }
            return WeightMatrix(f32: try tensor(name, [rows, cols]), rows: rows, cols: cols)
        }

        mutating func tensor(_ name: String, _ shape: [Int]) throws -> UnsafePointer<Float> {
            guard let (file, entry) = files.entry(name) else {
                let where_ = files.files.count == 1 ? files.files[0].path : "the checkpoint shards"
                throw ScoreError.format("\(where_): missing tensor '\(name)'")
            }
            guard entry.shape == shape else {
                throw ScoreError.format("\(file.path): tensor '\(name)' has shape \(entry.shape), expected \(shape) from config.json")
            }
            used.insert(name)
            let count = entry.elementCount
            parameterCount += count
            let raw = file.bytes(of: entry)
            switch entry.type {
            case .f32 where useMapping && file.file.residesInMapping && Int(bitPattern: raw.baseAddress) % 4 == 0:
                mappedBytes += raw.count
                return raw.baseAddress!.assumingMemoryBound(to: Float.self)
            case .f32, .f16, .bf16:
                let buffer = FloatBuffer(count: count, zeroed: false)
                if let src = raw.baseAddress {
                    switch entry.type {
                    case .f16: Convert.f16ToF32(src, buffer.pointer, count: count)
                    case .bf16: Convert.bf16ToF32(src, buffer.pointer, count: count)
                    default: Convert.f32Copy(src, buffer.pointer, count: count)
                    }
                }
                owned.append(buffer)
                ownedBytes += buffer.bytes
                return UnsafePointer(buffer.pointer)
            default:
                throw ScoreError.unsupported("\(file.path): tensor '\(name)' has dtype \(entry.type.rawValue); supported: F32, F16, BF16")
            }
        }

        /// A tensor the config does not account for means the config and the
        /// weights disagree (e.g. biases the config did not announce); using
        /// the model anyway would silently compute something else.
        func rejectUnused(config: ModelConfig) throws {
            let harmless = ["rotary_emb.inv_freq"]
            let extra = files.names.filter { !used.contains($0) && !harmless.contains(where: $0.hasSuffix) }.sorted()
            if let first = extra.first {
                let (file, _) = files.entry(first)!
                let more = extra.count > 1 ? " (and \(extra.count - 1) more)" : ""
                throw ScoreError.format("\(file.path): unexpected tensor '\(first)'\(more) for \(config.architecture.rawValue) with this config.json")
            }
        }
    }
}
