import SCoReRuntime

/// Expected values PyTorch recorded for the training engine
/// (tools/make_training_fixtures.py → Tests/Fixtures/training/<model>/expected.safetensors).
struct TrainingFixture {
    static let models = ["llama-gqa", "llama3-rope-tied", "mistral-swa", "qwen2", "qwen3"]
    static let root = String(Fixtures.root.dropLast("models".count)) + "training"

    let file: SafetensorsFile

    init(_ model: String) throws {
        file = try SafetensorsFile(path: Self.root + "/" + model + "/expected.safetensors")
    }

    func has(_ name: String) -> Bool { file.entries[name] != nil }

    func floats(_ name: String) -> [Float] {
        let e = file.entries[name]!
        let raw = file.bytes(of: e)
        return (0..<e.elementCount).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
    }

    func int32s(_ name: String) -> [Int32] {
        let e = file.entries[name]!
        let raw = file.bytes(of: e)
        return (0..<e.elementCount).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self) }
    }

    /// Names under a prefix, with the prefix removed.
    func names(under prefix: String) -> [String] {
        file.entries.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    /// The two-sequence batch, with per-token weights (and reference log-probs when asked).
    func batch(weights: Bool = true, referenceLogProbs: Bool = false) -> [TrainingSequence] {
        (0..<2).map { b in
            TrainingSequence(tokens: int32s("tokens.\(b)"), mask: floats("mask.\(b)"),
                             weights: weights ? floats("weight.\(b)") : nil,
                             referenceLogProbs: referenceLogProbs ? floats("kl.ref_logprobs.\(b)") : nil)
        }
    }
}

/// max|a − ref| / max(max|ref|, 1e-12): the relative error used for every
/// gradient comparison (per tensor, so tiny entries are judged against the
/// tensor's scale rather than their own).
func relativeError(_ a: some Collection<Float>, _ ref: [Float]) -> Float {
    precondition(a.count == ref.count, "length \(a.count) vs \(ref.count)")
    var diff: Float = 0, scale: Float = 0
    for (x, r) in zip(a, ref) {
        diff = max(diff, abs(x - r))
        scale = max(scale, abs(r))
    }
    return diff / max(scale, 1e-12)
}
