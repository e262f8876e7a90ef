import CScoreABI
import SCoReRuntime

// score_tokenizer_*, score_tokenize, score_detokenize, score_detokenizer_*:
// tokenizers from C. A score_tokenizer handle is the retained Swift
// Tokenizer itself, so a model can lend its own without a wrapper.

func unboxTokenizer(_ handle: OpaquePointer?) throws -> Tokenizer {
    guard let handle else { throw ScoreError.invalidArgument("tokenizer is NULL") }
    return Unmanaged<Tokenizer>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

/// A streaming detokenizer and the storage of its last output (memory of
/// our own, so the pointer handed to C stays put until the next call).
final class DetokenizerBox {
    let stream: StreamingDetokenizer
    private var output = UnsafeMutableBufferPointer<CChar>.allocate(capacity: 1)
    init(_ stream: StreamingDetokenizer) { self.stream = stream }
    deinit { output.deallocate() }

    func hand(_ text: String, _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>, _ length: UnsafeMutablePointer<Int>) {
        let bytes = Array(text.utf8)
        if output.count < bytes.count + 1 {
            output.deallocate()
            output = .allocate(capacity: bytes.count + 1)
        }
        for (i, b) in bytes.enumerated() { output[i] = CChar(bitPattern: b) }
        output[bytes.count] = 0
        out.pointee = UnsafePointer(output.baseAddress!)
        length.pointee = bytes.count
    }
}

private func unboxDetokenizer(_ handle: OpaquePointer?) throws -> DetokenizerBox {
    guard let handle else { throw ScoreError.invalidArgument("detokenizer is NULL") }
    return Unmanaged<DetokenizerBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

/// Writes `text` + NUL into (buf, cap, needed).
private func writeString(_ text: String, _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int,
                         _ needed: UnsafeMutablePointer<Int>?, what: String) throws {
    let bytes = Array(text.utf8)
    guard try checkBuffer(buf, capacity: cap, required: bytes.count + 1, needed: needed, what: what) else { return }
    bytes.withUnsafeBufferPointer { src in
        if let base = src.baseAddress { UnsafeMutableRawPointer(buf!).copyMemory(from: base, byteCount: src.count) }
    }
    buf![bytes.count] = 0
}

@c @implementation
public func score_tokenizer_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_tokenizer_load") {
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        let p = try String(argument: path, name: "path")
        let tokenizer = Files.isDirectory(p) ? try Tokenizer.load(directory: p) : try Tokenizer.load(tokenizerJSON: p)
        out.pointee = OpaquePointer(Unmanaged.passRetained(tokenizer).toOpaque())
    }
}

@c @implementation
public func score_tokenizer_free(_ tokenizer: OpaquePointer?) {
    guard let tokenizer else { return }
    Unmanaged<Tokenizer>.fromOpaque(UnsafeRawPointer(tokenizer)).release()
}

@c @implementation
public func score_model_tokenizer(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_model_tokenizer") {
        let m = try unbox(model)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        out.pointee = m.tokenizer.map { OpaquePointer(Unmanaged.passUnretained($0).toOpaque()) }
    }
}

@c @implementation
public func score_tokenize(_ tokenizer: OpaquePointer?, _ text: UnsafePointer<CChar>?, _ textLen: Int, _ flags: UInt32,
                           _ ids: UnsafeMutablePointer<Int32>?, _ cap: Int, _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_tokenize") {
        let t = try unboxTokenizer(tokenizer)
        guard text != nil || textLen == 0 else { throw ScoreError.invalidArgument("text is NULL") }
        let known = UInt32(SCORE_TOKENIZE_ADD_SPECIAL | SCORE_TOKENIZE_PARSE_SPECIAL)
        guard flags & ~known == 0 else { throw ScoreError.invalidArgument("unknown flags 0x\(String(flags, radix: 16))") }
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(text)?.assumingMemoryBound(to: UInt8.self), count: textLen)
        let result = try t.encode(utf8: bytes, addSpecialTokens: flags & UInt32(SCORE_TOKENIZE_ADD_SPECIAL) != 0,
                                  parseSpecial: flags & UInt32(SCORE_TOKENIZE_PARSE_SPECIAL) != 0)
        guard try checkBuffer(ids, capacity: cap, required: result.count, needed: needed, what: "token ids") else { return }
        for (i, id) in result.enumerated() { ids![i] = id }
    }
}

@c @implementation
public func score_detokenize(_ tokenizer: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ nIds: Int, _ skipSpecial: Bool,
                             _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int, _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_detokenize") {
        let t = try unboxTokenizer(tokenizer)
        guard ids != nil || nIds == 0 else { throw ScoreError.invalidArgument("ids is NULL") }
        guard nIds >= 0 && nIds <= 1 << 32 else { throw ScoreError.invalidArgument("n_ids \(nIds) is out of range") }
        let list = nIds == 0 ? [] : Array(UnsafeBufferPointer(start: ids, count: nIds))
        try writeString(try t.decode(list, skipSpecialTokens: skipSpecial), buf, cap, needed, what: "text")
    }
}

@c @implementation
public func score_tokenizer_vocab_size(_ tokenizer: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> score_status {
    boundary("score_tokenizer_vocab_size") {
        let t = try unboxTokenizer(tokenizer)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        out.pointee = Int32(clamping: t.vocabSize)
    }
}

@c @implementation
public func score_tokenizer_token_text(_ tokenizer: OpaquePointer?, _ id: Int32, _ buf: UnsafeMutablePointer<CChar>?,
                                       _ cap: Int, _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_tokenizer_token_text") {
        let t = try unboxTokenizer(tokenizer)
        guard let text = t.tokenText(id) else { throw ScoreError.invalidArgument("token id \(id) is not in the vocabulary (0..<\(t.vocabSize))") }
        try writeString(text, buf, cap, needed, what: "token text")
    }
}

@c @implementation
public func score_tokenizer_token_id(_ tokenizer: OpaquePointer?, _ token: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<Int32>?) -> score_status {
    boundary("score_tokenizer_token_id") {
        let t = try unboxTokenizer(tokenizer)
        let text = try String(argument: token, name: "token")
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        out.pointee = t.id(forToken: text) ?? -1
    }
}

@c @implementation
public func score_tokenizer_bos_id(_ tokenizer: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> score_status {
    boundary("score_tokenizer_bos_id") {
        let t = try unboxTokenizer(tokenizer)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        out.pointee = t.bosTokenId ?? -1
    }
}

@c @implementation
public func score_tokenizer_eos_ids(_ tokenizer: OpaquePointer?, _ ids: UnsafeMutablePointer<Int32>?, _ cap: Int,
                                    _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_tokenizer_eos_ids") {
        let t = try unboxTokenizer(tokenizer)
        guard try checkBuffer(ids, capacity: cap, required: t.eosTokenIds.count, needed: needed, what: "eos ids") else { return }
        for (i, id) in t.eosTokenIds.enumerated() { ids![i] = id }
    }
}

@c @implementation
public func score_tokenizer_is_special(_ tokenizer: OpaquePointer?, _ id: Int32, _ out: UnsafeMutablePointer<Bool>?) -> score_status {
    boundary("score_tokenizer_is_special") {
        let t = try unboxTokenizer(tokenizer)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        out.pointee = t.isSpecial(id)
    }
}

@c @implementation
public func score_detokenizer_new(_ tokenizer: OpaquePointer?, _ skipSpecial: Bool, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_detokenizer_new") {
        let t = try unboxTokenizer(tokenizer)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        let box = DetokenizerBox(StreamingDetokenizer(tokenizer: t, skipSpecialTokens: skipSpecial))
        out.pointee = OpaquePointer(Unmanaged.passRetained(box).toOpaque())
    }
}

@c @implementation
public func score_detokenizer_push(_ detokenizer: OpaquePointer?, _ id: Int32, _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                   _ textLen: UnsafeMutablePointer<Int>?) -> score_status {
    boundary("score_detokenizer_push") {
        let box = try unboxDetokenizer(detokenizer)
        guard let text, let textLen else { throw ScoreError.invalidArgument("text or text_len is NULL") }
        box.hand(try box.stream.push(id), text, textLen)
    }
}

@c @implementation
public func score_detokenizer_flush(_ detokenizer: OpaquePointer?, _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                    _ textLen: UnsafeMutablePointer<Int>?) -> score_status {
    boundary("score_detokenizer_flush") {
        let box = try unboxDetokenizer(detokenizer)
        guard let text, let textLen else { throw ScoreError.invalidArgument("text or text_len is NULL") }
        box.hand(try box.stream.finish(), text, textLen)
    }
}

@c @implementation
public func score_detokenizer_free(_ detokenizer: OpaquePointer?) {
    guard let detokenizer else { return }
    Unmanaged<DetokenizerBox>.fromOpaque(UnsafeRawPointer(detokenizer)).release()
}
