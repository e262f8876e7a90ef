// Hand-written matchers for the split regexes real tokenizers use.
//
// A general regex engine would cost a dependency (no Foundation here) or a
// lot of code, and would be slower than these matchers. A Split pre-tokenizer
// is recognised by its exact pattern string; any other pattern is a load
// error. Each matcher reproduces the backtracking engine's answer (Oniguruma:
// alternatives tried in order, greedy quantifiers, lookahead) at one start
// position. For these patterns every character starts some alternative, so
// the matches tile the text.

enum SplitPattern: Sendable, Equatable {
    /// GPT-2 (and the ByteLevel pre-tokenizer's built-in regex):
    /// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    case gpt2
    /// Llama-3 (digitGroup 3) and Qwen2 (digitGroup 1):
    /// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    case llama3(digitGroup: Int)

    static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    init?(source: String) {
        switch source {
        case Self.gpt2Source: self = .gpt2
        case Self.llama3Source: self = .llama3(digitGroup: 3)
        case Self.qwen2Source: self = .llama3(digitGroup: 1)
        default: return nil
        }
    }

    /// End of the match that starts at `i` (< t.count); always > i.
    @inline(__always)
    func matchEnd(_ t: UTF8Text, at i: Int) -> Int {
        switch self {
        case .gpt2: return PatternMatchers.gpt2(t, i)
        case .llama3(let digits): return PatternMatchers.llama3(t, i, digitGroup: digits)
        }
    }
}

enum PatternMatchers {
    private static let apostrophe = UInt8(ascii: "'")
    private static let space = UInt8(ascii: " ")

    /// 's 't 're 've 'm 'll 'd after the apostrophe at `i`; returns the end or nil.
    /// Case-insensitive matching folds like Oniguruma: ſ (U+017F) is an s.
    @inline(__always)
    static func contraction(_ t: UTF8Text, _ i: Int, ignoreCase: Bool) -> Int? {
        let j = i + 1
        guard j < t.count else { return nil }
        @inline(__always) func lower(_ b: UInt8) -> UInt8 {
            ignoreCase && b >= 0x41 && b <= 0x5A ? b | 0x20 : b
        }
        let c = lower(t.p[j])
        switch c {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return j + 1
        case UInt8(ascii: "r"), UInt8(ascii: "v"), UInt8(ascii: "l"):
            guard j + 1 < t.count else { return nil }
            let d = lower(t.p[j + 1])
            let want: UInt8 = c == UInt8(ascii: "l") ? UInt8(ascii: "l") : UInt8(ascii: "e")
            return d == want ? j + 2 : nil
        case 0xC5 where ignoreCase && j + 1 < t.count && t.p[j + 1] == 0xBF:  // ſ
            return j + 2
        default:
            return nil
        }
    }

    /// Shared tail of both patterns, for whitespace at `i`:
    /// \s+(?!\S) then \s+ (GPT-2 has no newline alternative before them).
    @inline(__always)
    static func whitespace(_ t: UTF8Text, _ i: Int, runEnd k: Int) -> Int {
        if k == t.count { return k }
        // Give back the last whitespace character so that (?!\S) holds,
        // unless the run is a single character (then \s+ takes it).
        if k - i > 1 {
            var back = k - 1
            while t.p[back] & 0xC0 == 0x80 { back -= 1 }
            if back > i { return back }
        }
        return k
    }

    static func gpt2(_ t: UTF8Text, _ i: Int) -> Int {
        let b = t.p[i]
        if b == apostrophe, let e = contraction(t, i, ignoreCase: false) { return e }
        let (c, n) = t.classAt(i)
        var start = i
        var cls = c
        if b == space && i + 1 < t.count {
            let (next, _) = t.classAt(i + 1)
            if next != .whitespace {
                start = i + 1
                cls = next
            }
        }
        switch cls {
        case .letter, .number, .other:
            return t.endOfRun(cls, from: start)
        case .whitespace:
            return whitespace(t, i, runEnd: t.endOfRun(.whitespace, from: i + n))
        }
    }

    @inline(__always)
    static func isNewline(_ b: UInt8) -> Bool { b == 0x0A || b == 0x0D }

    static func llama3(_ t: UTF8Text, _ i: Int, digitGroup: Int) -> Int {
        let b = t.p[i]
        if b == apostrophe, let e = contraction(t, i, ignoreCase: true) { return e }
        let (c, n) = t.classAt(i)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c == .letter { return t.endOfRun(.letter, from: i + n) }
        if c != .number && !isNewline(b) && i + n < t.count {
            let (next, _) = t.classAt(i + n)
            if next == .letter { return t.endOfRun(.letter, from: i + n) }
        }
        // \p{N}{1,3}
        if c == .number {
            var j = i + n
            var taken = 1
            while taken < digitGroup && j < t.count {
                let (k, m) = t.classAt(j)
                if k != .number { break }
                j += m
                taken += 1
            }
            return j
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        var start = -1
        if c == .other {
            start = i
        } else if b == space && i + 1 < t.count && t.classAt(i + 1).0 == .other {
            start = i + 1
        }
        if start >= 0 {
            var j = t.endOfRun(.other, from: start)
            while j < t.count && isNewline(t.p[j]) { j += 1 }
            return j
        }
        // Whitespace from here on. \s*[\r\n]+ : up to and including the last newline of the run.
        let k = t.endOfRun(.whitespace, from: i + n)
        var lastNewline = -1
        var j = i
        while j < k {
            if isNewline(t.p[j]) { lastNewline = j }
            j += 1
        }
        if lastNewline >= 0 { return lastNewline + 1 }
        return whitespace(t, i, runEnd: k)
    }
}

/// The split patterns as a public tool (tests compare them with the reference).
public enum PreTokenizerPatterns {
    /// The pieces a Split pre-tokenizer with this regex (behavior Isolated)
    /// makes of `text`; `.unsupported` for a pattern we do not recognise.
    public static func split(_ text: String, pattern source: String) throws -> [String] {
        guard let pattern = SplitPattern(source: source) else { throw ScoreError.unsupported("unsupported pre-tokenizer pattern '\(source)'") }
        let bytes = Array(text.utf8)
        return bytes.withText { t in
            var pieces: [String] = []
            var i = 0
            while i < t.count {
                let end = pattern.matchEnd(t, at: i)
                pieces.append(String(decoding: bytes[i..<end], as: UTF8.self))
                i = end
            }
            return pieces
        }
    }

    /// How the patterns classify a code point: "L" letter, "N" number, "S" whitespace, "O" other.
    public static func characterClass(_ value: UInt32) -> String {
        let c = value < 0x10000 ? UnicodeText.bmpClasses[Int(value)] : UnicodeText.computeClass(value)
        switch c {
        case .letter: return "L"
        case .number: return "N"
        case .whitespace: return "S"
        case .other: return "O"
        }
    }

    public static let gpt2 = SplitPattern.gpt2Source
    public static let llama3 = SplitPattern.llama3Source
    public static let qwen2 = SplitPattern.qwen2Source
}
