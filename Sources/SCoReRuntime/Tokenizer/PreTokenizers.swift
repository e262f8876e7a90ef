// Pre-tokenizers: cut a normalized piece into words, which the model then
// encodes one by one. Stages run in order over a `WordList`; each either
// refines the word boundaries (Split, Digits) or rewrites the bytes as well
// (Metaspace, ByteLevel's prefix space).
//
// ByteLevel must be the last stage: it hands the model raw bytes (the model
// is keyed by bytes, see BPE.swift) instead of spelling them in GPT-2's
// alphabet, which only works if nothing after it looks at the spelling.

/// Words as ranges over one byte buffer.
struct WordList {
    var bytes: [UInt8] = []
    var starts: [Int] = []
    var ends: [Int] = []
    /// Whether bytes[0] is the first byte of the input text (Metaspace "first").
    var startsText = false

    mutating func reset(startsText: Bool) {
        bytes.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        self.startsText = startsText
    }

    @inline(__always)
    mutating func add(_ start: Int, _ end: Int) {
        if end > start {
            starts.append(start)
            ends.append(end)
        }
    }
}

enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

enum PrependScheme: String, Sendable {
    case first, always, never
}

enum SplitMatcher: Sendable {
    case regex(SplitPattern)
    case literal([UInt8])
}

enum PreTokenizerStage: Sendable {
    case split(SplitMatcher, SplitBehavior, invert: Bool)
    case digits(individual: Bool)
    case metaspace(replacement: [UInt8], scheme: PrependScheme, split: Bool)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
}

struct PreTokenizer: Sendable {
    let stages: [PreTokenizerStage]

    /// Whether the model receives raw bytes (a ByteLevel stage ends the chain).
    var isByteLevel: Bool {
        if case .byteLevel = stages.last { return true }
        return false
    }

    static func parse(_ json: JSON, context: String) throws -> PreTokenizer {
        var stages: [PreTokenizerStage] = []
        try flatten(json, into: &stages, context: context)
        for (i, s) in stages.enumerated() where i != stages.count - 1 {
            if case .byteLevel = s {
                throw ScoreError.unsupported("\(context): a ByteLevel pre-tokenizer followed by other pre-tokenizers")
            }
        }
        return PreTokenizer(stages: stages)
    }

    private static func flatten(_ json: JSON, into stages: inout [PreTokenizerStage], context: String) throws {
        if json.isNull { return }
        guard let type = json["type"]?.stringValue else { throw ScoreError.format("\(context): pre_tokenizer without a \"type\"") }
        switch type {
        case "Sequence":
            guard let items = json["pretokenizers"]?.arrayValue else { throw ScoreError.format("\(context): Sequence pre-tokenizer without \"pretokenizers\"") }
            for item in items { try flatten(item, into: &stages, context: context) }
        case "ByteLevel":
            stages.append(.byteLevel(addPrefixSpace: json["add_prefix_space"]?.boolValue ?? true, useRegex: json["use_regex"]?.boolValue ?? true))
        case "Digits":
            stages.append(.digits(individual: json["individual_digits"]?.boolValue ?? false))
        case "Metaspace":
            let replacement = json["replacement"]?.stringValue ?? "▁"
            guard replacement.unicodeScalars.count == 1 else { throw ScoreError.format("\(context): Metaspace replacement must be one character") }
            let scheme: PrependScheme
            if let s = json["prepend_scheme"]?.stringValue {
                guard let p = PrependScheme(rawValue: s) else { throw ScoreError.unsupported("\(context): Metaspace prepend_scheme \"\(s)\"") }
                scheme = p
            } else {
                scheme = (json["add_prefix_space"]?.boolValue ?? true) ? .always : .never
            }
            stages.append(.metaspace(replacement: Array(replacement.utf8), scheme: scheme, split: json["split"]?.boolValue ?? true))
        case "Split":
            let behaviorName = json["behavior"]?.stringValue ?? ""
            guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                throw ScoreError.unsupported("\(context): Split pre-tokenizer behavior \"\(behaviorName)\"")
            }
            let invert = json["invert"]?.boolValue ?? false
            if let source = json["pattern"]?["Regex"]?.stringValue {
                guard let pattern = SplitPattern(source: source) else {
                    throw ScoreError.unsupported("\(context): unsupported pre-tokenizer pattern '\(source)' (supported: the GPT-2, Llama-3 and Qwen2 split regexes)")
                }
                stages.append(.split(.regex(pattern), behavior, invert: invert))
            } else if let literal = json["pattern"]?["String"]?.stringValue, !literal.isEmpty {
                stages.append(.split(.literal(Array(literal.utf8)), behavior, invert: invert))
            } else {
                throw ScoreError.format("\(context): Split pre-tokenizer needs a non-empty pattern")
            }
        default:
            throw ScoreError.unsupported("\(context): unsupported pre-tokenizer \"\(type)\"")
        }
    }

    /// Runs every stage over `words` (`spare` is scratch space).
    func apply(_ words: inout WordList, spare: inout WordList, marks: inout [(Int, Int, Bool)]) {
        for stage in stages {
            spare.reset(startsText: words.startsText)
            switch stage {
            case .split(let matcher, let behavior, let invert):
                spare.bytes = words.bytes
                words.bytes.withText { t in
                    for w in 0..<words.starts.count {
                        let (s, e) = (words.starts[w], words.ends[w])
                        if case .regex(let pattern) = matcher, behavior == .isolated, !invert {
                            // Hot path: the pattern tiles the word, every match is a word.
                            let sub = UTF8Text(p: t.p + s, count: e - s, classes: t.classes)
                            var i = 0
                            while i < sub.count {
                                let end = pattern.matchEnd(sub, at: i)
                                spare.add(s + i, s + end)
                                i = end
                            }
                            continue
                        }
                        marks.removeAll(keepingCapacity: true)
                        Self.findMatches(matcher, t, s, e, into: &marks)
                        Self.emit(&marks, behavior: behavior, invert: invert, into: &spare)
                    }
                }
            case .digits(let individual):
                spare.bytes = words.bytes
                words.bytes.withText { t in
                    for w in 0..<words.starts.count {
                        marks.removeAll(keepingCapacity: true)
                        var i = words.starts[w], gap = i
                        while i < words.ends[w] {
                            let (k, n) = t.classAt(i)
                            if k == .number {
                                if gap < i { marks.append((gap, i, false)) }
                                marks.append((i, i + n, true))
                                gap = i + n
                            }
                            i += n
                        }
                        if gap < words.ends[w] { marks.append((gap, words.ends[w], false)) }
                        Self.emit(&marks, behavior: individual ? .isolated : .contiguous, invert: false, into: &spare)
                    }
                }
            case .metaspace(let replacement, let scheme, let split):
                for w in 0..<words.starts.count {
                    let start = spare.bytes.count
                    let atTextStart = words.startsText && words.starts[w] == 0
                    let word = words.bytes[words.starts[w]..<words.ends[w]]
                    let startsWithReplacement = word.starts(with: replacement) || (word.first == 0x20)
                    if !startsWithReplacement && (scheme == .always || (scheme == .first && atTextStart)) {
                        spare.bytes += replacement
                    }
                    for b in word {
                        if b == 0x20 { spare.bytes += replacement } else { spare.bytes.append(b) }
                    }
                    let end = spare.bytes.count
                    if !split {
                        spare.add(start, end)
                        continue
                    }
                    // Split before every replacement character (MergedWithNext);
                    // a run of them keeps all but the last on their own.
                    marks.removeAll(keepingCapacity: true)
                    spare.bytes.withUnsafeBufferPointer { b in
                        Self.findLiteral(replacement, b.baseAddress!, start, end, into: &marks)
                    }
                    Self.emit(&marks, behavior: .mergedWithNext, invert: false, into: &spare)
                }
            case .byteLevel(let addPrefixSpace, let useRegex):
                for w in 0..<words.starts.count {
                    let start = spare.bytes.count
                    if addPrefixSpace && words.bytes[words.starts[w]] != 0x20 { spare.bytes.append(0x20) }
                    spare.bytes += words.bytes[words.starts[w]..<words.ends[w]]
                    let end = spare.bytes.count
                    if !useRegex {
                        spare.add(start, end)
                        continue
                    }
                    marks.removeAll(keepingCapacity: true)
                    spare.bytes.withText { t in
                        let sub = UTF8Text(p: t.p + start, count: end - start, classes: t.classes)
                        var i = 0
                        while i < sub.count {
                            let e = SplitPattern.gpt2.matchEnd(sub, at: i)
                            marks.append((start + i, start + e, true))
                            i = e
                        }
                    }
                    for (s, e, _) in marks { spare.add(s, e) }
                }
            }
            swap(&words, &spare)
        }
    }

    /// Matches of `matcher` in bytes[s..<e], with the gaps between them.
    private static func findMatches(_ matcher: SplitMatcher, _ t: UTF8Text, _ s: Int, _ e: Int, into marks: inout [(Int, Int, Bool)]) {
        switch matcher {
        case .regex(let pattern):
            let sub = UTF8Text(p: t.p + s, count: e - s, classes: t.classes)
            var i = 0
            while i < sub.count {
                let end = pattern.matchEnd(sub, at: i)
                marks.append((s + i, s + end, true))
                i = end
            }
        case .literal(let needle):
            findLiteral(needle, t.p, s, e, into: &marks)
        }
    }

    private static func findLiteral(_ needle: [UInt8], _ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, into marks: inout [(Int, Int, Bool)]) {
        let m = needle.count
        var i = s, gap = s
        while i + m <= e {
            if p[i] == needle[0] && (1..<m).allSatisfy({ p[i + $0] == needle[$0] }) {
                if gap < i { marks.append((gap, i, false)) }
                marks.append((i, i + m, true))
                i += m
                gap = i
            } else {
                i += 1
            }
        }
        if gap < e { marks.append((gap, e, false)) }
    }

    /// Turns (range, isMatch) marks covering a word into words, as `tokenizers`' split does.
    private static func emit(_ marks: inout [(Int, Int, Bool)], behavior: SplitBehavior, invert: Bool, into out: inout WordList) {
        if invert { for i in marks.indices { marks[i].2.toggle() } }
        switch behavior {
        case .isolated:
            for (s, e, _) in marks { out.add(s, e) }
        case .removed:
            for (s, e, m) in marks where !m { out.add(s, e) }
        case .mergedWithPrevious:
            var pieces: [(Int, Int)] = []
            var previousMatch = false
            for (s, e, m) in marks {
                if m && !previousMatch && !pieces.isEmpty { pieces[pieces.count - 1].1 = e } else { pieces.append((s, e)) }
                previousMatch = m
            }
            for (s, e) in pieces { out.add(s, e) }
        case .mergedWithNext:
            var pieces: [(Int, Int)] = []
            var previousMatch = false
            for (s, e, m) in marks.reversed() {
                if m && !previousMatch && !pieces.isEmpty { pieces[pieces.count - 1].0 = s } else { pieces.append((s, e)) }
                previousMatch = m
            }
            for (s, e) in pieces.reversed() { out.add(s, e) }
        case .contiguous:
            var pieces: [(Int, Int)] = []
            var previousMatch = false
            for (s, e, m) in marks {
                if m == previousMatch && !pieces.isEmpty { pieces[pieces.count - 1].1 = e } else { pieces.append((s, e)) }
                previousMatch = m
            }
            for (s, e) in pieces { out.add(s, e) }
        }
    }
}
