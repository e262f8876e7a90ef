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
    /// How far token ids may run past the number of tokens the file defines
    /// (vocabulary entries + added tokens). Real tokenizers number their
    /// tokens densely (a few unused ids at most); the tables indexed by id are
    /// sized by the largest id, so without a bound one id of 2^31 - 1 asked
    /// for 32 GB (an abort) and 2^28 loaded after 20 s in 4.2 GB. With it the
    /// tables stay within (entries + 2^20) slots: proportional to the file.
    static let idMargin = 1 << 20

    /// The exclusive upper bound of token ids for a file with `entries` tokens.
    static func idLimit(entries: Int) -> Int { entries + idMargin }

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
        let added = try parseAddedTokens(json["added_tokens"] ?? .array([]), context: context)
        let vocabCount = modelJSON["vocab"]?.objectValue?.count ?? 0
        let limit = idLimit(entries: vocabCount + added.count)
        if let far = added.first(where: { Int($0.id) >= limit }) {
            throw ScoreError.format("\(context): added token '\(far.content)' has id \(far.id), far beyond the \(vocabCount + added.count) tokens the file defines (ids must be < \(limit))")
        }
        let model = try parseModel(modelJSON, byteLevel: preTokenizer.isByteLevel, idLimit: limit, context: context)
        return TokenizerPipeline(model: model, addedTokens: added, normalizer: normalizer, preTokenizer: preTokenizer,
                                 postProcessor: postProcessor, decoder: decoder)
    }

    static func parseModel(_ json: JSON, byteLevel: Bool, idLimit: Int, context: String) throws -> BPEModel {
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
            guard Int(id) < idLimit else {
                throw ScoreError.format("\(context): model.vocab: '\(key)' has id \(id), far beyond the tokens the file defines (ids must be < \(idLimit))")
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
