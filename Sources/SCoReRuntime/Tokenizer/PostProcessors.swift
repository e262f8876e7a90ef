// Post-processors: the special tokens put around an encoded sequence when
// special tokens are requested (BOS for Llama, [CLS] ... [SEP] for BERT-like
// templates). Only single sequences are encoded here, so only the "single"
// template matters. ByteLevel post-processing only moves offsets, which we do
// not report, so it leaves the ids alone.

enum PostProcessor: Sendable {
    /// The ids to put before and after the sequence.
    case wrap(prefix: [Int32], suffix: [Int32])

    static func parse(_ json: JSON, context: String) throws -> PostProcessor? {
        if json.isNull { return nil }
        var prefix: [Int32] = [], suffix: [Int32] = []
        try collect(json, prefix: &prefix, suffix: &suffix, context: context)
        return prefix.isEmpty && suffix.isEmpty ? nil : .wrap(prefix: prefix, suffix: suffix)
    }

    func apply(_ ids: [Int32]) -> [Int32] {
        switch self {
        case .wrap(let prefix, let suffix):
            return prefix + ids + suffix
        }
    }

    /// Special ids the processor adds (also counted as special when decoding is asked to skip them).
    var addedIds: [Int32] {
        switch self {
        case .wrap(let prefix, let suffix): return prefix + suffix
        }
    }

    private static func collect(_ json: JSON, prefix: inout [Int32], suffix: inout [Int32], context: String) throws {
        guard let type = json["type"]?.stringValue else { throw ScoreError.format("\(context): post_processor without a \"type\"") }
        switch type {
        case "ByteLevel":
            return
        case "Sequence":
            guard let items = json["processors"]?.arrayValue else { throw ScoreError.format("\(context): Sequence post-processor without \"processors\"") }
            // Each processor wraps the result of the previous one.
            for item in items {
                var p: [Int32] = [], s: [Int32] = []
                try collect(item, prefix: &p, suffix: &s, context: context)
                prefix = p + prefix
                suffix += s
            }
        case "TemplateProcessing":
            guard let single = json["single"]?.arrayValue else { throw ScoreError.format("\(context): TemplateProcessing without \"single\"") }
            let specials = json["special_tokens"]?.objectValue ?? JSONObject()
            var seenSequence = false
            for piece in single {
                if let seq = piece["Sequence"] {
                    guard seq["id"]?.stringValue == "A" else {
                        throw ScoreError.format("\(context): TemplateProcessing single template refers to sequence \(seq["id"]?.stringValue ?? "?")")
                    }
                    guard !seenSequence else { throw ScoreError.unsupported("\(context): TemplateProcessing repeats the sequence") }
                    seenSequence = true
                } else if let special = piece["SpecialToken"] {
                    guard let name = special["id"]?.stringValue, let entry = specials[name] else {
                        throw ScoreError.format("\(context): TemplateProcessing special token missing from special_tokens")
                    }
                    guard let ids = entry["ids"]?.arrayValue else { throw ScoreError.format("\(context): TemplateProcessing special token '\(name)' without ids") }
                    let values = try ids.map { v -> Int32 in
                        guard let i = v.intValue, let id = Int32(exactly: i), id >= 0 else {
                            throw ScoreError.format("\(context): TemplateProcessing special token '\(name)' has an invalid id")
                        }
                        return id
                    }
                    if seenSequence { suffix += values } else { prefix += values }
                } else {
                    throw ScoreError.format("\(context): TemplateProcessing piece is neither Sequence nor SpecialToken")
                }
            }
            guard seenSequence else { throw ScoreError.format("\(context): TemplateProcessing single template has no $A") }
        case "RobertaProcessing", "BertProcessing":
            guard let cls = json["cls"]?.arrayValue, cls.count == 2, let clsId = cls[1].intValue.flatMap({ Int32(exactly: $0) }),
                  let sep = json["sep"]?.arrayValue, sep.count == 2, let sepId = sep[1].intValue.flatMap({ Int32(exactly: $0) }) else {
                throw ScoreError.format("\(context): \(type) needs \"cls\" and \"sep\" as [token, id]")
            }
            prefix.append(clsId)
            suffix.append(sepId)
        default:
            throw ScoreError.unsupported("\(context): unsupported post-processor \"\(type)\"")
        }
    }
}
