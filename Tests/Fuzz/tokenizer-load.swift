// tokenizer.json, every pipeline part (Tokenizer/TokenizerJSON.swift and the
// normalizers, pre-tokenizers, BPE model, added tokens, post-processor and
// decoder it builds): the input is tokenizer.json, then after a NUL byte a
// text that the loaded tokenizer encodes and decodes.
@testable import SCoReRuntime

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerLoad(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let (json, rest) = Fuzz.split(UnsafeBufferPointer(start: data, count: size))
    guard let parsed = try? JSON.parse(Array(json), context: "fuzz"),
          let tokenizer = try? Tokenizer(json: parsed, config: nil, context: "fuzz") else { return 0 }
    let texts = [Fuzz.text(rest ?? []), "Hello world! 123  <|im_end|> \u{00e9}\u{0301} 日本語 🙂\n\t"]
    for text in texts {
        for special in [false, true] {
            guard let ids = try? tokenizer.encode(text, addSpecialTokens: special, parseSpecial: special) else { continue }
            for id in ids { precondition(id >= 0 && Int(id) < tokenizer.vocabSize, "encode gave id \(id) outside 0..<\(tokenizer.vocabSize)") }
            _ = try? tokenizer.decode(ids, skipSpecialTokens: special)
            let stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: special)
            for id in ids { _ = try? stream.push(id) }
            _ = try? stream.finish()
        }
    }
    let top = Int32(clamping: tokenizer.vocabSize)
    for id in [0, 1, top &- 1, top, -1] {
        _ = tokenizer.tokenText(id)
        _ = try? tokenizer.decode([id])
    }
    return 0
}
