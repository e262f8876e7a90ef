// Unicode normalization forms NFD, NFKD and NFKC as Hugging Face `tokenizers`
// computes them (UAX #15: full decomposition, canonical reordering, canonical
// composition).
//
// The standard library has no decomposition mappings, so they come from a
// table generated from the reference itself (CompatibilityDecompositions.swift,
// tools/make_unicode_tables.py). The reference's tables are Unicode 9.0
// (the `unicode-normalization-alignments` crate); Swift's are Unicode 17.
// Decomposition mappings and combining classes never change for assigned
// characters, so the reference's behaviour is Swift's with every character
// assigned after 9.0 treated as unassigned: no mapping, combining class 0,
// never composed. For that reason we also compose with our own pair table
// rather than `String._nfcCodeUnits`, which would reorder around and compose
// characters the reference leaves alone.

public enum UnicodeNormalization {
    /// `.nfc` is here for completeness and tests; the NFC normalizer uses the
    /// standard library's (faster, and equal to this one except on characters
    /// assigned after Unicode 9.0).
    public enum Form: Sendable { case nfc, nfd, nfkd, nfkc }

    /// The reference's Unicode version (see above).
    static let referenceUnicodeVersion = (major: 9, minor: 0)

    /// `text` in normalization form `form`.
    public static func normalize(_ text: String, _ form: Form) -> String {
        String(decoding: normalize(Array(text.utf8), form), as: UTF8.self)
    }

    /// `text` (valid UTF-8) in normalization form `form`.
    static func normalize(_ text: [UInt8], _ form: Form) -> [UInt8] {
        if text.allSatisfy({ $0 < 0x80 }) { return text }
        var scalars = decompose(text, compatibility: form == .nfkd || form == .nfkc)
        var classes = scalars.map(combiningClass)
        reorder(&scalars, &classes)
        if form == .nfc || form == .nfkc { compose(&scalars, classes) }
        var out: [UInt8] = []
        out.reserveCapacity(text.count + text.count / 4)
        for v in scalars {
            // Every scalar comes from valid input or the table, so it is valid.
            if let s = Unicode.Scalar(v) { out.append(contentsOf: UTF8.encode(s)!) }
        }
        return out
    }

    // MARK: Decomposition

    private static let hangulBase: UInt32 = 0xAC00, hangulCount: UInt32 = 11172
    private static let leadBase: UInt32 = 0x1100, vowelBase: UInt32 = 0x1161, trailBase: UInt32 = 0x11A7
    private static let vowelCount: UInt32 = 21, trailCount: UInt32 = 28

    private static func decompose(_ text: [UInt8], compatibility: Bool) -> [UInt32] {
        let tables = DecompositionTables.shared
        var out: [UInt32] = []
        out.reserveCapacity(text.count)
        for s in String(decoding: text, as: UTF8.self).unicodeScalars {
            let v = s.value
            if v < 0xA0 {
                out.append(v)
            } else if v &- hangulBase < hangulCount {
                let index = v - hangulBase
                out.append(leadBase + index / (vowelCount * trailCount))
                out.append(vowelBase + index % (vowelCount * trailCount) / trailCount)
                if index % trailCount != 0 { out.append(trailBase + index % trailCount) }
            } else if let m = (compatibility ? tables.compatibility[v] : nil) ?? tables.canonical[v] {
                out.append(contentsOf: tables.mappings[Int(m >> 5)..<Int(m >> 5 + m & 31)])
            } else {
                out.append(v)
            }
        }
        return out
    }

    /// Stable sort of every run of non-starters by combining class.
    private static func reorder(_ scalars: inout [UInt32], _ classes: inout [UInt8]) {
        for i in scalars.indices where classes[i] != 0 {
            var j = i
            let v = scalars[i], c = classes[i]
            while j > 0 && classes[j - 1] > c {
                scalars[j] = scalars[j - 1]
                classes[j] = classes[j - 1]
                j -= 1
            }
            scalars[j] = v
            classes[j] = c
        }
    }

    // MARK: Composition

    /// Canonical composition of a canonically ordered, fully decomposed sequence.
    private static func compose(_ scalars: inout [UInt32], _ classes: [UInt8]) {
        let tables = DecompositionTables.shared
        var starter: Int? = nil
        var lastClass: UInt8 = 0  // class of the last character kept after the starter
        var n = 0
        for i in scalars.indices {
            let v = scalars[i], c = classes[i]
            if let s = starter {
                // Blocked unless adjacent to the starter, or every character
                // in between is a non-starter of a lower class.
                let adjacent = n == s + 1
                if adjacent || (lastClass != 0 && lastClass < c), let composite = composition(scalars[s], v, tables) {
                    scalars[s] = composite
                    continue
                }
            }
            if c == 0 { starter = n }
            lastClass = c
            scalars[n] = v
            n += 1
        }
        scalars.removeSubrange(n...)
    }

    private static func composition(_ a: UInt32, _ b: UInt32, _ tables: DecompositionTables) -> UInt32? {
        if a &- leadBase < 19 && b &- vowelBase < vowelCount {
            return hangulBase + ((a - leadBase) * vowelCount + (b - vowelBase)) * trailCount
        }
        if a &- hangulBase < hangulCount && (a - hangulBase) % trailCount == 0 && b &- (trailBase + 1) < trailCount - 1 {
            return a + (b - trailBase)
        }
        return tables.compositions[UInt64(a) << 32 | UInt64(b)]
    }

    // MARK: Combining classes

    /// Classes of U+0000...U+FFFF as the reference sees them.
    private static let bmpClasses: [UInt8] = (0..<0x10000).map { computeCombiningClass(UInt32($0)) }

    @inline(__always)
    static func combiningClass(_ v: UInt32) -> UInt8 {
        if v < 0x300 { return 0 }
        return v < 0x10000 ? bmpClasses[Int(v)] : computeCombiningClass(v)
    }

    private static func computeCombiningClass(_ v: UInt32) -> UInt8 {
        guard let s = Unicode.Scalar(v), let age = s.properties.age,
              (age.major, age.minor) <= referenceUnicodeVersion else { return 0 }
        return s.properties.canonicalCombiningClass.rawValue
    }
}

/// The generated table, parsed once.
final class DecompositionTables: Sendable {
    static let shared = DecompositionTables(CompatibilityDecompositions.data)

    /// Full decompositions, back to back; the dictionaries hold offset << 5 | length.
    let mappings: [UInt32]
    let canonical: [UInt32: UInt32]
    let compatibility: [UInt32: UInt32]
    /// First << 32 | second -> primary composite.
    let compositions: [UInt64: UInt32]

    init(_ data: StaticString) {
        var mappings: [UInt32] = []
        var canonical: [UInt32: UInt32] = [:], compatibility: [UInt32: UInt32] = [:], compositions: [UInt64: UInt32] = [:]
        data.withUTF8Buffer { bytes in
            var i = 0
            // One entry: code point, kind (= : +), space-separated code points.
            while i < bytes.count {
                var key: UInt32 = 0
                while i < bytes.count, let d = hexDigit(bytes[i]) { key = key << 4 | d; i += 1 }
                guard i < bytes.count else { break }
                let kind = bytes[i]
                i += 1
                var values: [UInt32] = []
                var v: UInt32 = 0
                while i < bytes.count && bytes[i] != UInt8(ascii: ";") {
                    if let d = hexDigit(bytes[i]) { v = v << 4 | d } else { values.append(v); v = 0 }
                    i += 1
                }
                values.append(v)
                i += 1
                switch kind {
                case UInt8(ascii: "+"):
                    if values.count == 2 { compositions[UInt64(values[0]) << 32 | UInt64(values[1])] = key }
                default:
                    let packed = UInt32(mappings.count) << 5 | UInt32(values.count)
                    mappings.append(contentsOf: values)
                    if kind == UInt8(ascii: "=") { canonical[key] = packed } else { compatibility[key] = packed }
                }
            }
        }
        self.mappings = mappings
        self.canonical = canonical
        self.compatibility = compatibility
        self.compositions = compositions
    }
}

@inline(__always)
private func hexDigit(_ b: UInt8) -> UInt32? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
    default: return nil
    }
}
