/// Turns tokens into text one at a time, as a model generates them.
///
/// The concatenation of everything `push` and `finish` return equals
/// `decode(allIds)`, and no call returns part of a UTF-8 character: text
/// that ends in an incomplete character (decoded as U+FFFD) is held back
/// until a later token completes it.
///
/// Decoders are not token-by-token maps (Metaspace and Strip treat the first
/// token specially, byte-fallback tokens combine), so each step decodes a
/// short window: the tokens last emitted (as context) plus the new ones, and
/// returns what the new ones added. The window restarts where the previous
/// text ended on a complete character, so it stays a few tokens long.
/// When a window's text is not an extension of its context's (which the
/// supported decoders do not produce), the step falls back to decoding
/// everything so far.
///
/// One thread at a time.
public final class StreamingDetokenizer {
    public let tokenizer: Tokenizer
    public let skipSpecialTokens: Bool
    /// Tokens of the window: context first, then not yet emitted tokens.
    private var window: [Int32] = []
    private var contextCount = 0
    private var contextText = ""
    /// Everything pushed (visible to the decoder) and the bytes emitted so far (fallback path).
    private var all: [Int32] = []
    private var emittedBytes = 0

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one token; returns the text it completes (often "", never half a character).
    public func push(_ id: Int32) throws -> String {
        guard tokenizer.tokenText(id) != nil else {
            throw ScoreError.invalidArgument("token id \(id) is not in the vocabulary (0..<\(tokenizer.vocabSize))")
        }
        // Skipped tokens are invisible to the decoder: leave them out entirely.
        if skipSpecialTokens && tokenizer.isSpecial(id) { return "" }
        all.append(id)
        window.append(id)
        let text = try tokenizer.decode(window)
        if text.utf8.count <= contextText.utf8.count || text.unicodeScalars.last == "\u{FFFD}" { return "" }
        guard text.utf8.starts(with: contextText.utf8) else { return try catchUp(final: false) }
        let new = String(decoding: text.utf8.dropFirst(contextText.utf8.count), as: UTF8.self)
        emittedBytes += new.utf8.count
        window.removeFirst(contextCount)
        contextCount = window.count
        contextText = try tokenizer.decode(window)
        return new
    }

    /// The text still held back (an incomplete character at the end is
    /// emitted as the decoder renders it). Call once after the last token.
    public func finish() throws -> String {
        try catchUp(final: true)
    }

    /// Emits whatever `decode(all)` has beyond what was emitted, and restarts the window.
    private func catchUp(final: Bool) throws -> String {
        let full = try tokenizer.decode(all)
        let bytes = Array(full.utf8)
        if !final && full.unicodeScalars.last == "\u{FFFD}" { return "" }
        guard bytes.count >= emittedBytes else { return "" }
        let new = String(decoding: bytes[emittedBytes...], as: UTF8.self)
        emittedBytes = bytes.count
        window = all.suffix(1)
        contextCount = window.count
        contextText = try tokenizer.decode(window)
        return new
    }
}
