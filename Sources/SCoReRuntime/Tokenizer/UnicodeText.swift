// Character classes and UTF-8 stepping for the pre-tokenizers.
//
// The split patterns of real tokenizers ask three questions of a character:
// is it a letter (\p{L}), a number (\p{N}), whitespace (\s)? The reference
// engine (Oniguruma) answers from the Unicode tables; we answer from Swift's
// `Unicode.Scalar.Properties`, cached for the Basic Multilingual Plane in a
// 64 KB table built once. Tests compare every code point against the
// reference (Tests/Fixtures/tokenizers/unicode_classes.json).

enum CharClass: UInt8 {
    case other = 0
    case letter = 1
    case number = 2
    case whitespace = 3
}

enum UnicodeText {
    /// The Unicode version of the reference's tables. Swift's are newer;
    /// characters assigned later are unassigned (`other`) to the reference.
    static let referenceUnicodeVersion = (major: 16, minor: 0)

    static func computeClass(_ v: UInt32) -> CharClass {
        guard let s = Unicode.Scalar(v) else { return .other }
        if let age = s.properties.age, (age.major, age.minor) > referenceUnicodeVersion { return .other }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return s.properties.isWhitespace ? .whitespace : .other
        }
    }

    /// Classes of U+0000...U+FFFF (surrogates are `other`; they never occur in valid UTF-8).
    static let bmpClasses: [CharClass] = (0..<0x10000).map { computeClass(UInt32($0)) }

    /// Rust regex `\w`: Alphabetic, marks, decimal digits, connector punctuation, join controls.
    static func isWordCharacter(_ v: UInt32) -> Bool {
        guard let s = Unicode.Scalar(v) else { return false }
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    static func isWhitespace(_ v: UInt32) -> Bool {
        Unicode.Scalar(v)?.properties.isWhitespace ?? false
    }
}

/// The scalar at byte `i` (a character boundary) of valid UTF-8, and its length.
@inline(__always)
func utf8Scalar(_ p: UnsafePointer<UInt8>, at i: Int) -> (value: UInt32, length: Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
    if b0 < 0xF0 {
        return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
    }
    return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6 | UInt32(p[i + 3] & 0x3F), 4)
}

/// A read-only view of valid UTF-8 bytes with the stepping the pattern
/// matchers need.
struct UTF8Text {
    let p: UnsafePointer<UInt8>
    let count: Int
    let classes: UnsafePointer<CharClass>

    /// The scalar at `i` (a character boundary) and its length in bytes.
    @inline(__always)
    func scalar(at i: Int) -> (value: UInt32, length: Int) { utf8Scalar(p, at: i) }

    @inline(__always)
    func charClass(_ v: UInt32) -> CharClass {
        v < 0x10000 ? classes[Int(v)] : UnicodeText.computeClass(v)
    }

    /// Class and length of the character at `i`.
    @inline(__always)
    func classAt(_ i: Int) -> (CharClass, Int) {
        let b = p[i]
        if b < 0x80 { return (classes[Int(b)], 1) }
        let (v, n) = scalar(at: i)
        return (charClass(v), n)
    }

    /// End of the run of characters of class `c` starting at `i`.
    @inline(__always)
    func endOfRun(_ c: CharClass, from i: Int) -> Int {
        var j = i
        while j < count {
            let (k, n) = classAt(j)
            if k != c { break }
            j += n
        }
        return j
    }
}

extension Array where Element == UInt8 {
    /// Calls `body` with the bytes and the class table.
    func withText<R>(_ body: (UTF8Text) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer { b in
            try UnicodeText.bmpClasses.withUnsafeBufferPointer { c in
                // An empty array may have no storage; nothing reads the pointer then.
                let base = b.baseAddress ?? UnsafeRawPointer(c.baseAddress!).assumingMemoryBound(to: UInt8.self)
                return try body(UTF8Text(p: base, count: b.count, classes: c.baseAddress!))
            }
        }
    }
}

/// Whether `bytes` are valid UTF-8 (what the byte entry points accept).
func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    var i = 0
    let n = bytes.count
    while i < n {
        let b0 = bytes[i]
        if b0 < 0x80 { i += 1; continue }
        var need = 0
        var minValue: UInt32 = 0
        var v: UInt32 = 0
        switch b0 {
        case 0xC2...0xDF: need = 1; v = UInt32(b0 & 0x1F); minValue = 0x80
        case 0xE0...0xEF: need = 2; v = UInt32(b0 & 0x0F); minValue = 0x800
        case 0xF0...0xF4: need = 3; v = UInt32(b0 & 0x07); minValue = 0x10000
        default: return false
        }
        for k in 1...need {
            guard i + k < n else { return false }
            let c = bytes[i + k]
            if c & 0xC0 != 0x80 { return false }
            v = v << 6 | UInt32(c & 0x3F)
        }
        if v < minValue || v > 0x10FFFF || (0xD800...0xDFFF).contains(v) { return false }
        i += need + 1
    }
    return true
}
