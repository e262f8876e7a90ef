// The BPE model: a word (one pre-tokenizer piece) becomes token ids by
// starting from one symbol per character and applying merges, lowest rank
// first (leftmost on ties), exactly as `tokenizers`' BPE does.
//
// For byte-level vocabularies the model is keyed by the raw bytes a token
// stands for, so words are never spelled in the GPT-2 alphabet: a "character"
// is then one byte.

struct BPEOptions: Sendable {
    var unkToken: String? = nil
    var fuseUnk = false
    var byteFallback = false
    var ignoreMerges = false
    var continuingSubwordPrefix: String? = nil
    var endOfWordSuffix: String? = nil
}

final class BPEModel: @unchecked Sendable {
    /// Token text by id (nil for ids the model lacks).
    let tokens: [String?]
    let byteLevel: Bool
    private let idsByText: [String: Int32]
    private let options: BPEOptions
    private var lookup: ByteStringMap
    private var merges: IntPairMap
    private let unkId: Int32?
    private let prefix: [UInt8]
    private let suffix: [UInt8]
    /// `<0xAB>` token ids, -1 where missing (byte_fallback).
    private let byteTokens: [Int32]
    /// Ids of single-character words with no prefix/suffix, -1 if absent (ASCII fast path).
    private let asciiIds: [Int32]

    /// - Parameters:
    ///   - vocab: (token, id) in file order.
    ///   - merges: pairs of token strings, rank = index.
    init(vocab: [(String, Int32)], merges mergeList: [(String, String)], options: BPEOptions, byteLevel: Bool, context: String) throws {
        self.options = options
        self.byteLevel = byteLevel
        let maxId = vocab.map { Int($0.1) }.max() ?? -1
        var tokens = [String?](repeating: nil, count: maxId + 1)
        var byText: [String: Int32] = [:]
        byText.reserveCapacity(vocab.count)
        var lookup = ByteStringMap(capacity: vocab.count)
        for (token, id) in vocab {
            guard id >= 0 else { throw ScoreError.format("\(context): model.vocab: token id \(id) of '\(token)' is negative") }
            tokens[Int(id)] = token
            byText[token] = id
            if let key = byteLevel ? ByteLevel.bytes(ofToken: token) : Array(token.utf8), !key.isEmpty {
                lookup.insert(key, value: UInt64(id))
            }
        }
        self.tokens = tokens
        idsByText = byText

        func keyBytes(_ s: String?, what: String) throws -> [UInt8] {
            guard let s else { return [] }
            if !byteLevel { return Array(s.utf8) }
            guard let b = ByteLevel.bytes(ofToken: s) else {
                throw ScoreError.unsupported("\(context): model.\(what) '\(s)' is not spelled in the byte-level alphabet")
            }
            return b
        }
        prefix = try keyBytes(options.continuingSubwordPrefix, what: "continuing_subword_prefix")
        suffix = try keyBytes(options.endOfWordSuffix, what: "end_of_word_suffix")

        if let unk = options.unkToken {
            guard let id = byText[unk] else { throw ScoreError.format("\(context): model.unk_token '\(unk)' is not in the vocabulary") }
            unkId = id
        } else {
            unkId = nil
        }
        byteTokens = (0..<256).map { b in
            let hex = String(b, radix: 16, uppercase: true)
            return byText["<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"] ?? -1
        }

        var pairs = IntPairMap(capacity: mergeList.count)
        let prefixText = options.continuingSubwordPrefix ?? ""
        for (rank, (a, b)) in mergeList.enumerated() {
            guard let ia = byText[a] else { throw ScoreError.format("\(context): merges[\(rank)] '\(a) \(b)': token '\(a)' is not in the vocabulary") }
            guard let ib = byText[b] else { throw ScoreError.format("\(context): merges[\(rank)] '\(a) \(b)': token '\(b)' is not in the vocabulary") }
            var right = Substring(b)
            if !prefixText.isEmpty {
                guard b.hasPrefix(prefixText) else {
                    throw ScoreError.format("\(context): merges[\(rank)] '\(a) \(b)': '\(b)' lacks the continuing_subword_prefix '\(prefixText)'")
                }
                right = b.dropFirst(prefixText.count)
            }
            let merged = a + right
            guard let im = byText[merged] else {
                throw ScoreError.format("\(context): merges[\(rank)] '\(a) \(b)': the merged token '\(merged)' is not in the vocabulary")
            }
            pairs.insert(UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib)), UInt64(rank) << 32 | UInt64(UInt32(im)))
        }
        merges = pairs
        self.lookup = lookup

        var ascii = [Int32](repeating: -1, count: 128)
        if prefix.isEmpty && suffix.isEmpty {
            for b in 0..<128 {
                var byte = UInt8(b)
                if let id = lookup.find(&byte, 1) { ascii[b] = Int32(truncatingIfNeeded: id) }
            }
        }
        asciiIds = ascii
    }

    /// The id of a vocabulary string.
    func wholeWordIdOfToken(_ text: String) -> Int32? { idsByText[text] }

    var hasAffixes: Bool { !prefix.isEmpty || !suffix.isEmpty }

    /// The id of a whole word, if the vocabulary has it.
    @inline(__always)
    func wholeWordId(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32? {
        lookup.find(p, n).map { Int32(truncatingIfNeeded: $0) }
    }

    @inline(__always)
    func mergeOf(_ a: Int32, _ b: Int32) -> (rank: UInt32, id: Int32)? {
        guard let v = merges.find(UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))) else { return nil }
        return (UInt32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v & 0xFFFF_FFFF))
    }

    /// Appends the ids of one word (non-empty, valid UTF-8 unless byte-level) to `out`.
    func encodeWord(_ p: UnsafePointer<UInt8>, _ n: Int, scratch: inout BPEScratch, out: inout [Int32]) {
        if options.ignoreMerges, let id = wholeWordId(p, n) {
            out.append(id)
            return
        }
        scratch.symbols.removeAll(keepingCapacity: true)
        initialSymbols(p, n, into: &scratch.symbols)
        if scratch.symbols.count > 1 {
            if scratch.symbols.count <= 48 { mergeByScanning(&scratch) } else { mergeWithHeap(&scratch) }
        } else {
            out.append(contentsOf: scratch.symbols)
            return
        }
        var i: Int32 = 0
        while i >= 0 {
            out.append(scratch.symbols[Int(i)])
            i = scratch.next[Int(i)]
        }
    }

    /// One symbol per character: its id, its byte-fallback ids, or unk.
    private func initialSymbols(_ p: UnsafePointer<UInt8>, _ n: Int, into symbols: inout [Int32]) {
        var pendingUnk = false
        var j = 0
        while j < n {
            let b = p[j]
            let len: Int
            if byteLevel || b < 0x80 { len = 1 } else if b < 0xE0 { len = 2 } else if b < 0xF0 { len = 3 } else { len = 4 }
            if b < 0x80 && asciiIds[Int(b)] >= 0 {
                if pendingUnk, let unk = unkId { symbols.append(unk); pendingUnk = false }
                symbols.append(asciiIds[Int(b)])
                j += len
                continue
            }
            let isFirst = j == 0, isLast = j + len == n
            var key: [UInt8] = []
            if !isFirst { key += prefix }
            key.append(contentsOf: UnsafeBufferPointer(start: p + j, count: len))
            if isLast { key += suffix }
            j += len
            if let id = lookup.find(key) {
                if pendingUnk, let unk = unkId { symbols.append(unk); pendingUnk = false }
                symbols.append(Int32(truncatingIfNeeded: id))
                continue
            }
            if options.byteFallback {
                // The reference spells the fallback from the token text, which
                // for byte-level vocabularies is the alphabet spelling.
                let textBytes = byteLevel ? Array(ByteLevel.spell(key).utf8) : key
                if textBytes.allSatisfy({ byteTokens[Int($0)] >= 0 }) {
                    for t in textBytes { symbols.append(byteTokens[Int(t)]) }
                    continue
                }
            }
            if let unk = unkId {
                if pendingUnk && !options.fuseUnk { symbols.append(unk) }
                pendingUnk = true
            }
        }
        if pendingUnk, let unk = unkId { symbols.append(unk) }
    }

    /// Few symbols: find the best pair by scanning the live list each round.
    private func mergeByScanning(_ s: inout BPEScratch) {
        let n = s.symbols.count
        s.prepareLinks(n)
        for i in 0..<(n - 1) { s.setPair(i, mergeOf(s.symbols[i], s.symbols[i + 1])) }
        s.ranks[n - 1] = .max
        while true {
            var best = UInt32.max
            var at: Int32 = -1
            var i: Int32 = 0
            while i >= 0 {
                if s.ranks[Int(i)] < best { best = s.ranks[Int(i)]; at = i }
                i = s.next[Int(i)]
            }
            if at < 0 { return }
            s.merge(at)
            relink(&s, around: at)
        }
    }

    /// Many symbols (long words): a heap of (rank, position), stale entries skipped.
    private func mergeWithHeap(_ s: inout BPEScratch) {
        let n = s.symbols.count
        s.prepareLinks(n)
        s.heap.removeAll(keepingCapacity: true)
        for i in 0..<(n - 1) {
            s.setPair(i, mergeOf(s.symbols[i], s.symbols[i + 1]))
            if s.ranks[i] != .max { s.heap.push(UInt64(s.ranks[i]) << 32 | UInt64(i)) }
        }
        s.ranks[n - 1] = .max
        while let top = s.heap.pop() {
            let at = Int32(truncatingIfNeeded: top & 0xFFFF_FFFF)
            let rank = UInt32(truncatingIfNeeded: top >> 32)
            // Stale: the symbol was absorbed, or its pair changed since.
            if !s.alive[Int(at)] || s.ranks[Int(at)] != rank { continue }
            s.merge(at)
            relink(&s, around: at)
            if s.ranks[Int(at)] != .max { s.heap.push(UInt64(s.ranks[Int(at)]) << 32 | UInt64(at)) }
            let prev = s.prev[Int(at)]
            if prev >= 0 && s.ranks[Int(prev)] != .max { s.heap.push(UInt64(s.ranks[Int(prev)]) << 32 | UInt64(prev)) }
        }
    }

    /// Recomputes the pairs that end or start at `at` after it merged.
    @inline(__always)
    private func relink(_ s: inout BPEScratch, around at: Int32) {
        let next = s.next[Int(at)]
        s.setPair(Int(at), next >= 0 ? mergeOf(s.symbols[Int(at)], s.symbols[Int(next)]) : nil)
        let prev = s.prev[Int(at)]
        if prev >= 0 { s.setPair(Int(prev), mergeOf(s.symbols[Int(prev)], s.symbols[Int(at)])) }
    }
}

/// Per-call working memory of the BPE model (reused across words).
struct BPEScratch {
    var symbols: [Int32] = []
    var next: [Int32] = []
    var prev: [Int32] = []
    var alive: [Bool] = []
    /// Rank of merging symbol i with its successor (.max: none), and the result.
    var ranks: [UInt32] = []
    var mergedIds: [Int32] = []
    var heap = MinHeap()

    mutating func prepareLinks(_ n: Int) {
        next.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true)
        alive.removeAll(keepingCapacity: true)
        ranks.removeAll(keepingCapacity: true)
        mergedIds.removeAll(keepingCapacity: true)
        for i in 0..<n {
            next.append(i + 1 < n ? Int32(i + 1) : -1)
            prev.append(Int32(i) - 1)
            alive.append(true)
            ranks.append(.max)
            mergedIds.append(-1)
        }
    }

    @inline(__always)
    mutating func setPair(_ i: Int, _ m: (rank: UInt32, id: Int32)?) {
        if let m {
            ranks[i] = m.rank
            mergedIds[i] = m.id
        } else {
            ranks[i] = .max
        }
    }

    /// Merges symbol `at` with its successor.
    @inline(__always)
    mutating func merge(_ at: Int32) {
        let i = Int(at)
        let j = Int(next[i])
        symbols[i] = mergedIds[i]
        alive[j] = false
        ranks[j] = .max
        next[i] = next[j]
        if next[j] >= 0 { prev[Int(next[j])] = at }
    }
}

/// A binary min-heap of packed (rank << 32 | position) keys: lowest rank
/// first, then leftmost.
struct MinHeap {
    private var items: [UInt64] = []

    mutating func removeAll(keepingCapacity: Bool) { items.removeAll(keepingCapacity: keepingCapacity) }

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) >> 1
            if items[parent] <= x { break }
            items[i] = items[parent]
            i = parent
        }
        items[i] = x
    }

    mutating func pop() -> UInt64? {
        guard let last = items.popLast() else { return nil }
        if items.isEmpty { return last }
        let top = items[0]
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && items[l + 1] < items[l] { c = l + 1 }
            if items[c] >= last { break }
            items[i] = items[c]
            i = c
        }
        items[i] = last
        return top
    }
}
