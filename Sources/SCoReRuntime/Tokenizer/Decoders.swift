// Decoders: token strings -> text. Each decoder maps the list of token
// strings to a new list, as `tokenizers`' decode_chain does, and the final
// list is concatenated. The per-token behaviour matters: Metaspace treats the
// first token of the list specially and Strip works token by token.

indirect enum Decoder: Sendable {
    case byteLevel
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case replace(pattern: String, content: String)
    case sequence([Decoder])

    static func parse(_ json: JSON, context: String) throws -> Decoder? {
        if json.isNull { return nil }
        guard let type = json["type"]?.stringValue else { throw ScoreError.format("\(context): decoder without a \"type\"") }
        switch type {
        case "ByteLevel": return .byteLevel
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Metaspace":
            let r = json["replacement"]?.stringValue ?? "▁"
            guard r.unicodeScalars.count == 1, let c = r.unicodeScalars.first else { throw ScoreError.format("\(context): Metaspace decoder replacement must be one character") }
            let scheme: PrependScheme
            if let s = json["prepend_scheme"]?.stringValue {
                guard let p = PrependScheme(rawValue: s) else { throw ScoreError.unsupported("\(context): Metaspace decoder prepend_scheme \"\(s)\"") }
                scheme = p
            } else {
                scheme = (json["add_prefix_space"]?.boolValue ?? true) ? .always : .never
            }
            return .metaspace(replacement: c, prependScheme: scheme)
        case "Strip":
            let content = json["content"]?.stringValue ?? " "
            guard content.unicodeScalars.count == 1, let c = content.unicodeScalars.first else { throw ScoreError.format("\(context): Strip decoder content must be one character") }
            guard let start = json["start"]?.intValue, let stop = json["stop"]?.intValue, start >= 0, stop >= 0 else {
                throw ScoreError.format("\(context): Strip decoder needs non-negative \"start\" and \"stop\"")
            }
            return .strip(content: c, start: start, stop: stop)
        case "Replace":
            let (pattern, content) = try parseReplace(json, context: context, what: "Replace decoder")
            return .replace(pattern: pattern, content: content)
        case "Sequence":
            guard let items = json["decoders"]?.arrayValue else { throw ScoreError.format("\(context): Sequence decoder without \"decoders\"") }
            return .sequence(try items.compactMap { try parse($0, context: context) })
        default:
            throw ScoreError.unsupported("\(context): unsupported decoder \"\(type)\"")
        }
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens {
                if let b = ByteLevel.bytes(ofToken: t) { bytes += b } else { bytes += t.utf8 }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { i, token in
                // Characters here are scalars, as Rust's chars are.
                var out = String.UnicodeScalarView()
                for c in token.unicodeScalars {
                    if c == replacement {
                        if !(i == 0 && scheme != .never) { out.append(" ") }
                    } else {
                        out.append(c)
                    }
                }
                return String(out)
            }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = Self.fallbackByte(t) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(t)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let chars = Array(token.unicodeScalars)
                var lo = 0
                while lo < min(start, chars.count) && chars[lo] == content { lo += 1 }
                var hi = chars.count
                var removed = 0
                while removed < stop && hi > lo && chars[hi - 1] == content {
                    hi -= 1
                    removed += 1
                }
                var out = String.UnicodeScalarView()
                out.append(contentsOf: chars[lo..<hi])
                return String(out)
            }
        case .replace(let pattern, let content):
            let p = Array(pattern.utf8), c = Array(content.utf8)
            return tokens.map { String(decoding: replaceAll(Array($0.utf8), p, c), as: UTF8.self) }
        case .sequence(let items):
            var t = tokens
            for d in items { t = d.decodeChain(t) }
            return t
        }
    }

    /// The byte of a `<0xAB>` token (hex digits in either case), else nil.
    static func fallbackByte(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"), u[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }
}
