import CScoreABI
import SCoReRuntime

// score_session_* and score_generate: batched generation over a model.

final class SessionBox {
    let session: Session
    init(_ session: Session) { self.session = session }
}

/// Results with storage of their own, so the pointers handed to C stay
/// valid (and unmoved) until score_generation_free.
final class GenerationBox {
    let results: [Generation]
    let tokens: [UnsafeMutableBufferPointer<Int32>]
    let logProbs: [UnsafeMutableBufferPointer<Float>]

    init(_ results: [Generation]) {
        self.results = results
        tokens = results.map { r in
            let b = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(1, r.tokens.count))
            _ = b.initialize(from: r.tokens)
            return b
        }
        logProbs = results.map { r in
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, r.logProbs.count))
            _ = b.initialize(from: r.logProbs)
            return b
        }
    }

    deinit {
        tokens.forEach { $0.deallocate() }
        logProbs.forEach { $0.deallocate() }
    }
}

func unboxSession(_ handle: OpaquePointer?) throws -> Session {
    guard let handle else { throw ScoreError.invalidArgument("session is NULL") }
    return Unmanaged<SessionBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue().session
}

func unboxGeneration(_ handle: OpaquePointer?) throws -> [Generation] {
    guard let handle else { throw ScoreError.invalidArgument("generation is NULL") }
    return Unmanaged<GenerationBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue().results
}

@c @implementation
public func score_session_params_default() -> score_session_params {
    score_session_params(struct_size: UInt32(MemoryLayout<score_session_params>.size), seed: 0)
}

@c @implementation
public func score_session_new(_ model: OpaquePointer?, _ params: UnsafePointer<score_session_params>?,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_session_new") {
        let m = try unbox(model)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        let p = try readParams(params, defaults: score_session_params_default(), structSize: { $0.struct_size }, function: "score_session_new")
        out.pointee = OpaquePointer(Unmanaged.passRetained(SessionBox(Session(model: m, seed: p.seed))).toOpaque())
    }
}

@c @implementation
public func score_session_free(_ session: OpaquePointer?) {
    guard let session else { return }
    Unmanaged<SessionBox>.fromOpaque(UnsafeRawPointer(session)).release()
}

@c @implementation
public func score_generate_params_default() -> score_generate_params {
    score_generate_params(struct_size: UInt32(MemoryLayout<score_generate_params>.size),
                          max_new_tokens: 128, temperature: 1, top_k: 0, top_p: 1, min_p: 0,
                          repetition_penalty: 1, stop_ids: nil, n_stop_ids: 0, stop_strings: nil, n_stop_strings: 0)
}

/// The Swift generation parameters a C params struct describes.
func generationParams(_ p: score_generate_params) throws -> GenerationParams {
    guard p.max_new_tokens >= 0 else { throw ScoreError.invalidArgument("max_new_tokens \(p.max_new_tokens) is negative") }
    var stops: [Int32]? = nil
    if let ids = p.stop_ids {
        guard p.n_stop_ids <= 1 << 20 else { throw ScoreError.invalidArgument("n_stop_ids \(p.n_stop_ids) is absurdly large") }
        stops = Array(UnsafeBufferPointer(start: ids, count: p.n_stop_ids))
    } else if p.n_stop_ids != 0 {
        throw ScoreError.invalidArgument("stop_ids is NULL but n_stop_ids is \(p.n_stop_ids)")
    }
    var stopStrings: [String] = []
    if let texts = p.stop_strings {
        guard p.n_stop_strings <= 1 << 16 else { throw ScoreError.invalidArgument("n_stop_strings \(p.n_stop_strings) is absurdly large") }
        stopStrings = try (0..<p.n_stop_strings).map { try String(argument: texts[$0], name: "stop_strings[\($0)]") }
    } else if p.n_stop_strings != 0 {
        throw ScoreError.invalidArgument("stop_strings is NULL but n_stop_strings is \(p.n_stop_strings)")
    }
    let sampling = SamplingParams(temperature: p.temperature, topK: Int(p.top_k), topP: p.top_p, minP: p.min_p,
                                  repetitionPenalty: p.repetition_penalty)
    try sampling.validate()
    var params = GenerationParams(maxNewTokens: Int(p.max_new_tokens), sampling: sampling, stopTokenIds: stops)
    params.stopStrings = stopStrings
    return params
}

@c @implementation
public func score_generate(_ session: OpaquePointer?, _ prompts: UnsafePointer<UnsafePointer<Int32>?>?,
                           _ promptLengths: UnsafePointer<Int>?, _ nPrompts: Int,
                           _ params: UnsafePointer<score_generate_params>?, _ callback: score_token_fn?,
                           _ userData: UnsafeMutableRawPointer?,
                           _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_generate") {
        let s = try unboxSession(session)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        guard nPrompts > 0 else { throw ScoreError.invalidArgument("n_prompts is 0") }
        guard nPrompts <= 1 << 16 else { throw ScoreError.invalidArgument("n_prompts \(nPrompts) is absurdly large") }
        guard let prompts, let promptLengths else { throw ScoreError.invalidArgument("prompts or prompt_lengths is NULL") }
        var swiftPrompts: [[Int32]] = []
        for i in 0..<nPrompts {
            let n = promptLengths[i]
            guard let p = prompts[i], n > 0 else { throw ScoreError.invalidArgument("prompt \(i) is NULL or empty") }
            guard n <= 1 << 24 else { throw ScoreError.invalidArgument("prompt \(i) length \(n) is absurdly large") }
            swiftPrompts.append(Array(UnsafeBufferPointer(start: p, count: n)))
        }
        let c = try readParams(params, defaults: score_generate_params_default(), structSize: { $0.struct_size }, function: "score_generate")
        let gp = try generationParams(c)
        let onToken: Generator.TokenCallback? = callback.map { fn in { i, token in fn(i, token, userData) } }
        let results = try s.generate(prompts: swiftPrompts, params: gp, onToken: onToken)
        out.pointee = OpaquePointer(Unmanaged.passRetained(GenerationBox(results)).toOpaque())
    }
}

@c @implementation
public func score_generation_count(_ generation: OpaquePointer?) -> Int {
    (try? unboxGeneration(generation).count) ?? 0
}

@c @implementation
public func score_generation_get(_ generation: OpaquePointer?, _ i: Int,
                                 _ tokens: UnsafeMutablePointer<UnsafePointer<Int32>?>?,
                                 _ logprobs: UnsafeMutablePointer<UnsafePointer<Float>?>?,
                                 _ nTokens: UnsafeMutablePointer<Int>?,
                                 _ finishReason: UnsafeMutablePointer<Int32>?) -> score_status {
    boundary("score_generation_get") {
        guard let handle = generation else { throw ScoreError.invalidArgument("generation is NULL") }
        let box = Unmanaged<GenerationBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
        guard i >= 0, i < box.results.count else {
            throw ScoreError.invalidArgument("sequence \(i) is out of range (\(box.results.count) sequences)")
        }
        tokens?.pointee = UnsafePointer(box.tokens[i].baseAddress)
        logprobs?.pointee = UnsafePointer(box.logProbs[i].baseAddress)
        nTokens?.pointee = box.results[i].tokens.count
        finishReason?.pointee = box.results[i].finishReason.rawValue
    }
}

@c @implementation
public func score_generation_free(_ generation: OpaquePointer?) {
    guard let generation else { return }
    Unmanaged<GenerationBox>.fromOpaque(UnsafeRawPointer(generation)).release()
}
