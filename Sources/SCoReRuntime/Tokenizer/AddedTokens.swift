// Added tokens (special or not) are found in the text before the model sees
// it: leftmost-longest matches, as `tokenizers`' Aho-Corasick automaton
// finds them, here with a byte trie walked from each position that can start
// a token. A match is then subject to the token's options: single_word
// (no word character on either side), lstrip/rstrip (swallow whitespace on
// that side), and, when special tokens are to be read as plain text, special
// tokens are skipped.

public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var id: Int32
    public var special: Bool
    public var singleWord: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    public var normalized: Bool
}

/// A piece of input: a matched added token (id >= 0) or text to tokenize (id == -1).
struct Segment {
    var start: Int
    var end: Int
    var id: Int32
}

struct AddedTokenTrie: Sendable {
    private let tokens: [AddedToken]
    /// (node << 8 | byte) -> child node.
    private var edges = IntPairMap()
    /// node -> index in `tokens` of the token ending there, or -1.
    private var terminal: [Int32] = [-1]
    private var canStart = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { tokens.isEmpty }

    /// `patterns[i]` is the text to look for (the normalized content for
    /// normalized tokens).
    init(tokens: [AddedToken], patterns: [[UInt8]]) {
        self.tokens = tokens
        for (index, pattern) in patterns.enumerated() where !pattern.isEmpty {
            var node: UInt64 = 0
            for b in pattern {
                let key = node << 8 | UInt64(b)
                if let child = edges.find(key) {
                    node = child
                } else {
                    let child = UInt64(terminal.count)
                    terminal.append(-1)
                    edges.insert(key, child)
                    node = child
                }
            }
            // The first of equal patterns wins, as in the reference automaton.
            if terminal[Int(node)] < 0 { terminal[Int(node)] = Int32(index) }
            canStart[Int(pattern[0])] = true
        }
    }

    /// Splits `text` into added tokens and the text between them.
    func split(_ text: UnsafeBufferPointer<UInt8>, skipSpecial: Bool, into out: inout [Segment]) {
        let n = text.count
        guard n > 0 else { return }
        if tokens.isEmpty {
            out.append(Segment(start: 0, end: n, id: -1))
            return
        }
        var startOffset = 0
        var i = 0
        while i < n {
            if !canStart[Int(text[i])] {
                i += 1
                continue
            }
            var node: UInt64 = 0
            var j = i
            var best: Int32 = -1
            var bestEnd = i
            while j < n, let child = edges.find(node << 8 | UInt64(text[j])) {
                node = child
                j += 1
                if terminal[Int(node)] >= 0 {
                    best = terminal[Int(node)]
                    bestEnd = j
                }
            }
            guard best >= 0 else {
                i += 1
                continue
            }
            let token = tokens[Int(best)]
            var start = i
            var stop = bestEnd
            i = bestEnd
            if skipSpecial && token.special { continue }
            if token.singleWord {
                let spaceBefore = start == 0 || !Self.isWordCharacter(before: start, in: text)
                let spaceAfter = stop == n || !Self.isWordCharacter(at: stop, in: text)
                if !spaceBefore || !spaceAfter { continue }
            }
            if token.lstrip {
                var s = start
                while s > 0 {
                    let (v, len) = Self.scalar(before: s, in: text)
                    if !UnicodeText.isWhitespace(v) { break }
                    s -= len
                }
                start = max(s, startOffset)
            }
            if token.rstrip {
                while stop < n {
                    let (v, len) = Self.scalar(at: stop, in: text)
                    if !UnicodeText.isWhitespace(v) { break }
                    stop += len
                }
            }
            if startOffset < start { out.append(Segment(start: startOffset, end: start, id: -1)) }
            out.append(Segment(start: start, end: stop, id: token.id))
            startOffset = stop
        }
        if startOffset < n { out.append(Segment(start: startOffset, end: n, id: -1)) }
    }

    private static func scalar(at i: Int, in text: UnsafeBufferPointer<UInt8>) -> (UInt32, Int) {
        utf8Scalar(text.baseAddress!, at: i)
    }

    private static func scalar(before i: Int, in text: UnsafeBufferPointer<UInt8>) -> (UInt32, Int) {
        var s = i - 1
        while s > 0 && text[s] & 0xC0 == 0x80 { s -= 1 }
        let (v, _) = scalar(at: s, in: text)
        return (v, i - s)
    }

    private static func isWordCharacter(before i: Int, in text: UnsafeBufferPointer<UInt8>) -> Bool {
        UnicodeText.isWordCharacter(scalar(before: i, in: text).0)
    }

    private static func isWordCharacter(at i: Int, in text: UnsafeBufferPointer<UInt8>) -> Bool {
        UnicodeText.isWordCharacter(scalar(at: i, in: text).0)
    }
}
