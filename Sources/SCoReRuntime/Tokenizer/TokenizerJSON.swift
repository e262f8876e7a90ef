// Reading tokenizer.json (the `tokenizers` serialization) into the parts of
// a pipeline, and the few settings we take from tokenizer_config.json.
// Anything we would silently get wrong is a load error that names it.

struct TokenizerPipeline {
    var model: BPEModel
    var addedTokens: [AddedToken]
    var normalizer: Normalizer?
    var preTokenizer: PreTokenizer
    var postProcessor: PostProcessor?
    var decoder: Decoder?
}

enum TokenizerJSON {
    static func parse(_ json: JSON, context: String) throws -> TokenizerPipeline {
        guard json.objectValue != nil else { throw ScoreError.format("\(context): the top level is not an object") }
        if let t = json["truncation"], !t.isNull {
            throw ScoreError.unsupported("\(context): truncation settings in tokenizer.json are not supported")
        }
        if let p = json["padding"], !p.isNull, p["strategy"]?.stringValue != "BatchLongest" {
            throw ScoreError.unsupported("\(context): fixed-length padding in tokenizer.json is not supported")
        }
        let normalizer = try Normalizer.parse(json["normalizer"] ?? .null, context: context)
        let preTokenizer = try PreTokenizer.parse(json["pre_tokenizer"] ?? .null, context: context)
        let postProcessor = try PostProcessor.parse(json["post_processor"] ?? .null, context: context)
        let decoder = try Decoder.parse(json["decoder"] ?? .null, context: context)
        guard let modelJSON = json["model"], modelJSON.objectValue != nil else { throw ScoreError.format("\(context): no \"model\" object") }
        let model = try parseModel(modelJSON, byteLevel: preTokenizer.isByteLevel, context: context)
        let added = try parseAddedTokens(json["added_tokens"] ?? .array([]), context: context)
        return TokenizerPipeline(model: model, addedTokens: added, normalizer: normalizer, preTokenizer: preTokenizer,
                                 postProcessor: postProcessor, decoder: decoder)
    }

    static func parseModel(_ json: JSON, byteLevel: Bool, context: String) throws -> BPEModel {
        let type = json["type"]?.stringValue ?? "BPE"
        guard type == "BPE" else { throw ScoreError.unsupported("\(context): unsupported tokenizer model \"\(type)\" (only BPE)") }
        if let d = json["dropout"], !d.isNull, (d.doubleValue ?? 1) != 0 {
            throw ScoreError.unsupported("\(context): BPE dropout is a training option; inference needs dropout null")
        }
        guard let vocabObject = json["vocab"]?.objectValue else { throw ScoreError.format("\(context): model.vocab is not an object") }
        var vocab: [(String, Int32)] = []
        vocab.reserveCapacity(vocabObject.count)
        for key in vocabObject.keys {
            guard let v = vocabObject[key]?.intValue, let id = Int32(exactly: v), id >= 0 else {
                throw ScoreError.format("\(context): model.vocab: the id of '\(key)' is not a non-negative 32-bit integer")
            }
            vocab.append((key, id))
        }
        guard let mergesJSON = json["merges"]?.arrayValue else { throw ScoreError.format("\(context): model.merges is not an array") }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergesJSON.count)
        for (i, m) in mergesJSON.enumerated() {
            if let line = m.stringValue {
                // The legacy "a b" form: exactly one space, as the reference requires.
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw ScoreError.format("\(context): merges[\(i)] '\(line)' is not two tokens separated by one space") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = m.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                merges.append((a, b))
            } else {
                throw ScoreError.format("\(context): merges[\(i)] is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        func optionalString(_ key: String) throws -> String? {
            guard let v = json[key], !v.isNull else { return nil }
            guard let s = v.stringValue else { throw ScoreError.format("\(context): model.\(key) is not a string") }
            return s
        }
        var options = BPEOptions()
        options.unkToken = try optionalString("unk_token")
        options.continuingSubwordPrefix = try optionalString("continuing_subword_prefix").flatMap { $0.isEmpty ? nil : $0 }
        options.endOfWordSuffix = try optionalString("end_of_word_suffix").flatMap { $0.isEmpty ? nil : $0 }
        options.fuseUnk = json["fuse_unk"]?.boolValue ?? false
        options.byteFallback = json["byte_fallback"]?.boolValue ?? false
        options.ignoreMerges = json["ignore_merges"]?.boolValue ?? false
        return try BPEModel(vocab: vocab, merges: merges, options: options, byteLevel: byteLevel, context: context)
    }

    static func parseAddedTokens(_ json: JSON, context: String) throws -> [AddedToken] {
        guard let items = json.arrayValue else { throw ScoreError.format("\(context): added_tokens is not an array") }
        return try items.enumerated().map { i, item in
            guard let content = item["content"]?.stringValue, let rawId = item["id"]?.intValue, let id = Int32(exactly: rawId), id >= 0 else {
                throw ScoreError.format("\(context): added_tokens[\(i)] needs \"content\" and a non-negative \"id\"")
            }
            let special = item["special"]?.boolValue ?? false
            return AddedToken(content: content, id: id, special: special,
                              singleWord: item["single_word"]?.boolValue ?? false,
                              lstrip: item["lstrip"]?.boolValue ?? false,
                              rstrip: item["rstrip"]?.boolValue ?? false,
                              normalized: item["normalized"]?.boolValue ?? !special)
        }
    }

    /// `bos_token` / `eos_token` in tokenizer_config.json: a string or {"content": ...}.
    static func tokenText(_ json: JSON?) -> String? {
        guard let json else { return nil }
        if let s = json.stringValue { return s }
        return json["content"]?.stringValue
    }
}
