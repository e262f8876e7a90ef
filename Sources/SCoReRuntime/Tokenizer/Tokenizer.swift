/// A Hugging Face `tokenizer.json` tokenizer (BPE models: GPT-2, Llama-3,
/// Qwen2, SmolLM2, Llama-2/Mistral SentencePiece-style), producing exactly
/// the ids and text of the `tokenizers` library.
///
/// Encoding runs the reference's pipeline: added tokens are cut out of the
/// raw text first (special-token text is read as a special token only when
/// `parseSpecial` is true), each piece between them is normalized, split into
/// words by the pre-tokenizer and encoded by the model, and the
/// post-processor adds BOS/EOS when `addSpecialTokens` is true.
///
/// Immutable after loading: encode and decode from any number of threads.
public final class Tokenizer: @unchecked Sendable {
    /// tokenizer_config.json, when the directory has one (the chat-template
    /// engine reads `chat_template` from it).
    public let config: JSON?
    public let bosTokenText: String?
    public let eosTokenText: String?
    public let bosTokenId: Int32?
    public let eosTokenIds: [Int32]
    /// Ids of added tokens marked special (skipped by `skipSpecialTokens`).
    public let specialTokenIds: Set<Int32>
    /// One past the largest token id (model vocabulary and added tokens).
    public let vocabSize: Int
    public let addedTokens: [AddedToken]

    let model: BPEModel
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer
    let postProcessor: PostProcessor?
    let decoder: Decoder?
    private let rawTrie: AddedTokenTrie
    private let normalizedTrie: AddedTokenTrie
    private let addedById: [Int32: String]
    private let addedByText: [String: Int32]

    /// Loads `tokenizer.json` and, when present, `tokenizer_config.json` from a directory.
    public static func load(directory: String) throws -> Tokenizer {
        guard Files.isDirectory(directory) else { throw ScoreError.io("\(directory): no such directory") }
        let path = Files.join(directory, "tokenizer.json")
        guard Files.exists(path) else { throw ScoreError.io("\(path): no tokenizer.json in the directory") }
        let configPath = Files.join(directory, "tokenizer_config.json")
        let config = Files.exists(configPath) ? try Files.readJSON(configPath) : nil
        return try Tokenizer(json: try Files.readJSON(path), config: config, context: path)
    }

    /// Loads one tokenizer.json file (no tokenizer_config.json).
    public static func load(tokenizerJSON path: String) throws -> Tokenizer {
        try Tokenizer(json: try Files.readJSON(path), config: nil, context: path)
    }

    public init(json: JSON, config: JSON?, context: String) throws {
        let pipeline = try TokenizerJSON.parse(json, context: context)
        model = pipeline.model
        normalizer = pipeline.normalizer
        preTokenizer = pipeline.preTokenizer
        postProcessor = pipeline.postProcessor
        decoder = pipeline.decoder
        self.config = config

        // The reference matches special tokens first, then the others, each in file order.
        let added = pipeline.addedTokens.filter { $0.special } + pipeline.addedTokens.filter { !$0.special }
        addedTokens = pipeline.addedTokens
        // The reference looks tokens up by their content but spells a
        // normalized token, when decoding, in its normalized form.
        var byId: [Int32: String] = [:], byText: [String: Int32] = [:]
        for t in pipeline.addedTokens {
            if t.normalized, let n = pipeline.normalizer {
                byId[t.id] = String(decoding: n.apply(Array(t.content.utf8)), as: UTF8.self)
            } else {
                byId[t.id] = t.content
            }
            byText[t.content] = t.id
        }
        addedById = byId
        addedByText = byText
        let raw = added.filter { !$0.normalized }
        rawTrie = AddedTokenTrie(tokens: raw, patterns: raw.map { Array($0.content.utf8) })
        let normalized = added.filter { $0.normalized }
        let normalizer = pipeline.normalizer
        normalizedTrie = AddedTokenTrie(tokens: normalized, patterns: normalized.map { t in
            let bytes = Array(t.content.utf8)
            return normalizer?.apply(bytes) ?? bytes
        })
        specialTokenIds = Set(pipeline.addedTokens.filter { $0.special }.map { $0.id })
        vocabSize = max(model.tokens.count, (pipeline.addedTokens.map { Int($0.id) }.max() ?? -1) + 1)

        bosTokenText = TokenizerJSON.tokenText(config?["bos_token"])
        eosTokenText = TokenizerJSON.tokenText(config?["eos_token"])
        let bpe = pipeline.model
        func lookup(_ text: String?) -> Int32? {
            guard let text else { return nil }
            return byText[text] ?? bpe.wholeWordIdOfToken(text)
        }
        let bos = TokenizerJSON.tokenText(config?["bos_token"])
        let eos = TokenizerJSON.tokenText(config?["eos_token"])
        bosTokenId = lookup(bos)
        eosTokenIds = lookup(eos).map { [$0] } ?? []
        // A post-processor names its ids itself (TemplateProcessing's
        // special_tokens, Bert/Roberta's cls and sep); one outside the
        // vocabulary would be added to every encoding, and no decode or
        // model accepts it.
        if let bad = pipeline.postProcessor?.addedIds.first(where: { Int($0) >= vocabSize }) {
            throw ScoreError.format("\(context): post_processor adds token id \(bad), outside the vocabulary (0..<\(vocabSize))")
        }
    }

    // MARK: - Encoding

    /// Token ids of `text`. `parseSpecial: false` reads special-token text
    /// (e.g. "<|im_end|>" typed by a user) as plain text: use it for
    /// untrusted input.
    public func encode(_ text: String, addSpecialTokens: Bool = true, parseSpecial: Bool = true) throws -> [Int32] {
        var text = text
        return text.withUTF8 { encodeValidated($0, addSpecialTokens: addSpecialTokens, parseSpecial: parseSpecial) }
    }

    /// Token ids of UTF-8 bytes; invalid UTF-8 is an `.invalidArgument` error.
    public func encode(utf8 bytes: UnsafeBufferPointer<UInt8>, addSpecialTokens: Bool = true, parseSpecial: Bool = true) throws -> [Int32] {
        guard isValidUTF8(bytes) else { throw ScoreError.invalidArgument("the text is not valid UTF-8") }
        return encodeValidated(bytes, addSpecialTokens: addSpecialTokens, parseSpecial: parseSpecial)
    }

    private func encodeValidated(_ text: UnsafeBufferPointer<UInt8>, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int32] {
        var state = EncodeState()
        var out: [Int32] = []
        out.reserveCapacity(text.count / 3 + 4)
        var segments: [Segment] = []
        rawTrie.split(text, skipSpecial: !parseSpecial, into: &segments)
        for segment in segments {
            if segment.id >= 0 {
                out.append(segment.id)
                continue
            }
            let piece = Array(UnsafeBufferPointer(rebasing: text[segment.start..<segment.end]))
            let normalizedPiece = normalizer?.apply(piece) ?? piece
            if normalizedPiece.isEmpty { continue }
            if normalizedTrie.isEmpty {
                encodePiece(normalizedPiece, startsText: segment.start == 0, state: &state, out: &out)
                continue
            }
            var inner: [Segment] = []
            normalizedPiece.withUnsafeBufferPointer { normalizedTrie.split($0, skipSpecial: !parseSpecial, into: &inner) }
            for s in inner {
                if s.id >= 0 {
                    out.append(s.id)
                } else {
                    encodePiece(Array(normalizedPiece[s.start..<s.end]), startsText: segment.start == 0 && s.start == 0, state: &state, out: &out)
                }
            }
        }
        if addSpecialTokens, let post = postProcessor { out = post.apply(out) }
        return out
    }

    /// Pre-tokenizes one normalized piece and encodes its words.
    private func encodePiece(_ piece: [UInt8], startsText: Bool, state: inout EncodeState, out: inout [Int32]) {
        state.words.reset(startsText: startsText)
        state.words.bytes = piece
        state.words.add(0, piece.count)
        preTokenizer.apply(&state.words, spare: &state.spare, marks: &state.marks)
        state.words.bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return }
            for w in 0..<state.words.starts.count {
                let p = base + state.words.starts[w]
                let n = state.words.ends[w] - state.words.starts[w]
                if n <= WordCache.maxWordBytes, state.cache.append(p, n, to: &out) { continue }
                let before = out.count
                model.encodeWord(p, n, scratch: &state.bpe, out: &out)
                if n <= WordCache.maxWordBytes { state.cache.insert(p, n, ids: out[before...]) }
            }
        }
    }

    // MARK: - Decoding

    /// The text of `ids`. Ids that are not tokens are an `.invalidArgument` error.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) throws -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() {
            guard let text = tokenText(id) else {
                throw ScoreError.invalidArgument("token id \(id) at position \(i) is not in the vocabulary (0..<\(vocabSize))")
            }
            if skipSpecialTokens && specialTokenIds.contains(id) { continue }
            tokens.append(text)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// The vocabulary string of a token (as stored, e.g. "Ġthe" or "▁the"), nil if unknown.
    public func tokenText(_ id: Int32) -> String? {
        if let t = addedById[id] { return t }
        guard id >= 0, Int(id) < model.tokens.count else { return nil }
        return model.tokens[Int(id)]
    }

    /// The id of a vocabulary string, nil if unknown.
    public func id(forToken token: String) -> Int32? {
        addedByText[token] ?? model.wholeWordIdOfToken(token)
    }

    public func isSpecial(_ id: Int32) -> Bool { specialTokenIds.contains(id) }
}

/// Per-call scratch space: nothing is shared between calls, so a tokenizer
/// serves many threads without locks.
struct EncodeState {
    var words = WordList()
    var spare = WordList()
    var marks: [(Int, Int, Bool)] = []
    var bpe = BPEScratch()
    var cache = WordCache()
}

/// Words already encoded in this call (text repeats words a lot).
struct WordCache {
    static let maxWordBytes = 48
    private static let maxEntries = 1 << 17
    private var map = ByteStringMap(capacity: 256)
    private var ids: [Int32] = []

    /// Appends the cached ids of the word, if cached.
    @inline(__always)
    mutating func append(_ p: UnsafePointer<UInt8>, _ n: Int, to out: inout [Int32]) -> Bool {
        guard let v = map.find(p, n) else { return false }
        let start = Int(v >> 32), count = Int(v & 0xFFFF_FFFF)
        out.append(contentsOf: ids[start..<(start + count)])
        return true
    }

    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, ids new: ArraySlice<Int32>) {
        guard map.count < Self.maxEntries else { return }
        let start = ids.count
        ids.append(contentsOf: new)
        map.insert(p, n, value: UInt64(start) << 32 | UInt64(new.count))
    }
}
