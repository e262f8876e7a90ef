// Normalizers: text -> text before pre-tokenization, applied to each piece
// of the input between added tokens (as `tokenizers` does).
//
// NFC, NFD, NFKD and NFKC use our own tables, generated from the reference
// (UnicodeNormalization.swift): `tokenizers` normalizes with Unicode 9.0
// data, and the standard library's NFC (Unicode 17) composes characters
// assigned since then differently, so it would not match the reference.

indirect enum Normalizer: Sendable {
    case nfc
    case unicode(UnicodeNormalization.Form)
    case lowercase
    case prepend(String)
    case replace(pattern: String, content: String)
    case strip(left: Bool, right: Bool)
    case sequence([Normalizer])

    static func parse(_ json: JSON, context: String) throws -> Normalizer? {
        if json.isNull { return nil }
        guard let type = json["type"]?.stringValue else { throw ScoreError.format("\(context): normalizer without a \"type\"") }
        switch type {
        case "NFC": return .nfc
        case "NFD": return .unicode(.nfd)
        case "NFKD": return .unicode(.nfkd)
        case "NFKC": return .unicode(.nfkc)
        case "Lowercase": return .lowercase
        case "Prepend":
            guard let p = json["prepend"]?.stringValue else { throw ScoreError.format("\(context): Prepend normalizer without \"prepend\"") }
            return .prepend(p)
        case "Replace":
            let (pattern, content) = try parseReplace(json, context: context, what: "Replace normalizer")
            return .replace(pattern: pattern, content: content)
        case "Strip":
            return .strip(left: json["strip_left"]?.boolValue ?? false, right: json["strip_right"]?.boolValue ?? false)
        case "Sequence":
            guard let items = json["normalizers"]?.arrayValue else { throw ScoreError.format("\(context): Sequence normalizer without \"normalizers\"") }
            return .sequence(try items.compactMap { try parse($0, context: context) })
        default:
            throw ScoreError.unsupported("\(context): unsupported normalizer \"\(type)\"")
        }
    }

    /// Normalizes `text`; the result may be empty.
    func apply(_ text: [UInt8]) -> [UInt8] {
        switch self {
        case .nfc:
            if text.allSatisfy({ $0 < 0x80 }) { return text }  // ASCII is always NFC
            return UnicodeNormalization.normalize(text, .nfc)
        case .unicode(let form):
            return UnicodeNormalization.normalize(text, form)
        case .lowercase:
            return Self.lowercased(text)
        case .prepend(let p):
            return text.isEmpty ? text : Array(p.utf8) + text
        case .replace(let pattern, let content):
            return replaceAll(text, Array(pattern.utf8), Array(content.utf8))
        case .strip(let left, let right):
            return Self.strip(text, left: left, right: right)
        case .sequence(let items):
            var t = text
            for n in items { t = n.apply(t) }
            return t
        }
    }

    private static func lowercased(_ text: [UInt8]) -> [UInt8] {
        if text.allSatisfy({ $0 < 0x80 }) {
            return text.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for s in String(decoding: text, as: UTF8.self).unicodeScalars {
            if s.isASCII {
                let b = UInt8(s.value)
                out.append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
            } else {
                out.append(contentsOf: s.properties.lowercaseMapping.utf8)
            }
        }
        return out
    }

    private static func strip(_ text: [UInt8], left: Bool, right: Bool) -> [UInt8] {
        let scalars = Array(String(decoding: text, as: UTF8.self).unicodeScalars)
        var lo = 0, hi = scalars.count
        if left { while lo < hi && scalars[lo].properties.isWhitespace { lo += 1 } }
        if right { while hi > lo && scalars[hi - 1].properties.isWhitespace { hi -= 1 } }
        if lo == 0 && hi == scalars.count { return text }
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[lo..<hi])
        return Array(String(s).utf8)
    }
}

/// Pattern and content of a Replace normalizer or decoder. Only literal
/// string patterns are supported; a regex pattern is a load error.
func parseReplace(_ json: JSON, context: String, what: String) throws -> (String, String) {
    guard let content = json["content"]?.stringValue else { throw ScoreError.format("\(context): \(what) without \"content\"") }
    guard let pattern = json["pattern"] else { throw ScoreError.format("\(context): \(what) without \"pattern\"") }
    if let s = pattern["String"]?.stringValue {
        guard !s.isEmpty else { throw ScoreError.unsupported("\(context): \(what) with an empty pattern") }
        return (s, content)
    }
    if let r = pattern["Regex"]?.stringValue { throw ScoreError.unsupported("\(context): \(what) with a regex pattern '\(r)'") }
    throw ScoreError.format("\(context): \(what): \"pattern\" must be {\"String\": ...}")
}

/// Every non-overlapping occurrence of `pattern` (non-empty), left to right, replaced.
func replaceAll(_ text: [UInt8], _ pattern: [UInt8], _ content: [UInt8]) -> [UInt8] {
    let m = pattern.count
    guard m > 0, text.count >= m else { return text }
    var out: [UInt8] = []
    var i = 0
    var found = false
    let first = pattern[0]
    while i < text.count {
        if text[i] == first && i + m <= text.count && text[i..<(i + m)].elementsEqual(pattern) {
            if !found {
                out.reserveCapacity(text.count + 16)
                out.append(contentsOf: text[0..<i])
                found = true
            }
            out.append(contentsOf: content)
            i += m
        } else {
            if found { out.append(text[i]) }
            i += 1
        }
    }
    return found ? out : text
}
