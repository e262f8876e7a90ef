// Encoding and decoding with the repo's fixture tokenizers (GPT-2, Llama-2,
// Llama-3, Mistral, Qwen2, SmolLM2, the misc and NFKC ones). Input byte 0
// picks the tokenizer and flags; the rest is text to encode (invalid UTF-8
// included) and, read as little-endian int32s, ids to decode.
@testable import SCoReRuntime

let tokenizers: [Tokenizer] = {
    let names = ["gpt2", "gpt2-legacy-merges", "llama2", "llama3", "misc", "mistral", "nfkc", "qwen2", "smollm2"]
    return names.compactMap { try? Tokenizer.load(directory: Fuzz.repo + "/Tests/Fixtures/tokenizers/" + $0) }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerEncode(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    precondition(tokenizers.count >= 8, "fixture tokenizers did not load (run from the Makefile: SCORE_REPO)")
    guard size >= 1 else { return 0 }
    let tokenizer = tokenizers[Int(data[0] >> 2) % tokenizers.count]
    let addSpecial = data[0] & 1 != 0, parseSpecial = data[0] & 2 != 0
    let text = UnsafeBufferPointer(start: data + 1, count: size - 1)
    if let ids = try? tokenizer.encode(utf8: text, addSpecialTokens: addSpecial, parseSpecial: parseSpecial) {
        for id in ids { precondition(id >= 0 && Int(id) < tokenizer.vocabSize, "encode gave id \(id)") }
        _ = try? tokenizer.decode(ids, skipSpecialTokens: parseSpecial)
    }
    var ids: [Int32] = []
    var i = 1
    while i + 4 <= size {
        ids.append(Int32(bitPattern: UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24))
        i += 4
    }
    // Small ids are the interesting ones: fold most into the vocabulary.
    let folded = ids.map { $0 < 0 || $0 % 7 == 0 ? $0 : $0 % Int32(tokenizer.vocabSize + 2) }
    for list in [ids, folded] {
        _ = try? tokenizer.decode(list, skipSpecialTokens: addSpecial)
        let stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: addSpecial)
        for id in list {
            _ = try? stream.push(id)
            _ = tokenizer.tokenText(id)
            _ = tokenizer.isSpecial(id)
        }
        _ = try? stream.finish()
    }
    return 0
}
