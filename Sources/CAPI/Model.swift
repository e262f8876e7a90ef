import CScoreABI
import SCoReRuntime

// score_model_*: loading, freeing, describing a model.

@c @implementation
public func score_model_params_default() -> score_model_params {
    score_model_params(struct_size: UInt32(MemoryLayout<score_model_params>.size), use_mmap: true, max_context: 0,
                       compute: Int32(SCORE_COMPUTE_F32), pack: true)
}

@c @implementation
public func score_model_load(_ dir: UnsafePointer<CChar>?, _ params: UnsafePointer<score_model_params>?,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_model_load") {
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        let path = try String(argument: dir, name: "dir")
        let p = try readParams(params, defaults: score_model_params_default(), structSize: { $0.struct_size }, function: "score_model_load")
        guard p.max_context >= 0 else { throw ScoreError.invalidArgument("max_context \(p.max_context) is negative") }
        let compute: ComputeMode
        switch p.compute {
        case Int32(SCORE_COMPUTE_F32): compute = .f32
        case Int32(SCORE_COMPUTE_BF16): compute = .bf16
        default: throw ScoreError.invalidArgument("compute \(p.compute) is not SCORE_COMPUTE_F32 (0) or SCORE_COMPUTE_BF16 (1)")
        }
        let options = LoadOptions(useMapping: p.use_mmap, maxContext: p.max_context == 0 ? nil : Int(p.max_context),
                                  pack: p.pack, compute: compute)
        let model = try Model.load(directory: path, options: options)
        out.pointee = OpaquePointer(Unmanaged.passRetained(ModelBox(model)).toOpaque())
    }
}

@c @implementation
public func score_model_free(_ model: OpaquePointer?) {
    guard let model else { return }
    Unmanaged<ModelBox>.fromOpaque(UnsafeRawPointer(model)).release()
}

@c @implementation
public func score_model_get_info(_ model: OpaquePointer?, _ info: UnsafeMutablePointer<score_model_info>?) -> score_status {
    boundary("score_model_get_info") {
        let m = try unbox(model)
        guard let info else { throw ScoreError.invalidArgument("info is NULL") }
        let size = Int(info.pointee.struct_size)
        guard size >= MemoryLayout<UInt32>.size else {
            throw ScoreError.invalidArgument("info->struct_size \(size) is too small; set it to sizeof(score_model_info)")
        }
        let c = m.config
        var result = score_model_info()
        result.struct_size = info.pointee.struct_size
        withUnsafeMutableBytes(of: &result.architecture) { dst in
            let name = Array(c.architecture.rawValue.utf8.prefix(dst.count - 1))
            dst.copyBytes(from: name)
            dst[name.count] = 0
        }
        result.n_params = UInt64(m.weights.parameterCount)
        result.vocab_size = Int32(c.vocabSize)
        result.context_length = Int32(m.contextLength)
        result.hidden_size = Int32(c.hiddenSize)
        result.n_layers = Int32(c.layerCount)
        result.n_heads = Int32(c.headCount)
        result.n_kv_heads = Int32(c.kvHeadCount)
        result.head_dim = Int32(c.headDim)
        switch m.weights.storedType {
        case .f16: result.dtype = Int32(SCORE_DTYPE_F16)
        case .bf16: result.dtype = Int32(SCORE_DTYPE_BF16)
        default: result.dtype = Int32(SCORE_DTYPE_F32)
        }
        result.bytes_in_memory = UInt64(m.bytesInMemory)
        result.bos_token_id = Int32(c.bosTokenId ?? -1)
        result.eos_token_id = Int32(c.eosTokenIds.first ?? -1)
        copyPrefix(of: result, into: info, size: size)
    }
}

@c @implementation
public func score_model_eos_ids(_ model: OpaquePointer?, _ ids: UnsafeMutablePointer<Int32>?, _ cap: Int,
                                _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_model_eos_ids") {
        let m = try unbox(model)
        let eos = m.config.eosTokenIds
        guard try checkBuffer(ids, capacity: cap, required: eos.count, needed: needed, what: "eos ids") else { return }
        for (i, id) in eos.enumerated() { ids![i] = Int32(id) }
    }
}
