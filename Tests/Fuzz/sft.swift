// SFT data (Training/SFTData.swift) through SFTDataset.load, with the
// tokenizer and chat template of Tests/Fixtures/models/qwen2-chat. Input
// byte 0: odd = CSV, even = JSONL; the rest is the file.
@testable import SCoReRuntime

let tools: SFTDataset.TextTools = {
    let dir = Fuzz.repo + "/Tests/Fixtures/models/qwen2-chat"
    let tokenizer = try! Tokenizer.load(directory: dir)
    let template = try! ChatTemplate.load(directory: dir)
    return SFTDataset.TextTools(tokenizer: tokenizer, template: template, eos: tokenizer.eosTokenIds.first)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSFT(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let csv = data[0] & 1 == 1
    let path = Fuzz.write(csv ? "data.csv" : "data.jsonl", UnsafeBufferPointer(start: data + 1, count: size - 1))
    guard let set = try? SFTDataset.load(path: path, text: tools, vocabSize: tools.tokenizer.vocabSize, maxLength: 64) else { return 0 }
    for s in set.examples {
        precondition(s.tokens.count == s.mask.count && s.tokens.count <= 64)
        if let w = s.weights { precondition(w.count == s.tokens.count) }
    }
    return 0
}
