/// Splits template source into text and tag tokens the way jinja2's lexer
/// does with transformers' settings (`trim_blocks=True`, `lstrip_blocks=True`,
/// `keep_trailing_newline=False`):
///  - `{%- ` / `{{-` / `{#-` strip all whitespace before the tag, and
///    ` -%}` / ` -}}` / ` -#}` all whitespace after it;
///  - a block or comment tag alone on its line after spaces has those spaces
///    removed (lstrip_blocks; `{%+` opts out), and the first newline after
///    `%}` or `#}` is dropped (trim_blocks; `+%}` opts out);
///  - `\r\n` and `\r` become `\n`, and one trailing newline is removed.
struct JinjaLexer {
    enum Kind: Equatable {
        case data(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
        case eof
    }

    struct Token {
        let kind: Kind
        let offset: Int
    }

    let bytes: [UInt8]
    private(set) var tokens: [Token] = []
    private var pos = 0
    private var lineStarting = true

    init(source: String) {
        var b: [UInt8] = []
        b.reserveCapacity(source.utf8.count)
        var previousCR = false
        for c in source.utf8 {
            if c == 0x0D { b.append(0x0A); previousCR = true; continue }
            if c == 0x0A && previousCR { previousCR = false; continue }
            previousCR = false
            b.append(c)
        }
        if b.last == 0x0A { b.removeLast() }
        bytes = b
    }

    static func tokenize(_ source: String) throws -> JinjaLexer {
        var lexer = JinjaLexer(source: source)
        try lexer.run()
        return lexer
    }

    func location(of offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        var i = 0
        while i < min(offset, bytes.count) {
            if bytes[i] == 0x0A { line += 1; column = 1 } else if bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        return (line, column)
    }

    func error(_ message: String, at offset: Int) -> JinjaError {
        let (line, column) = location(of: offset)
        return JinjaError(.syntax, message, line: line, column: column)
    }

    private func text(_ start: Int, _ end: Int) -> String {
        String(decoding: bytes[start..<end], as: UTF8.self)
    }

    private func at(_ i: Int, _ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        for k in 0..<n where bytes[i + k] != s.utf8Start[k] { return false }
        return true
    }

    /// Byte length of the Python-whitespace code point at `i`, or 0.
    private func spaceLength(at i: Int) -> Int {
        guard i < bytes.count else { return 0 }
        let b = bytes[i]
        if b < 0x80 { return PythonText.isSpace(Unicode.Scalar(b)) ? 1 : 0 }
        var it = bytes[i...].makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let s) = decoder.decode(&it), PythonText.isSpace(s) {
            return UTF8.width(s)
        }
        return 0
    }

    private func skipSpaces(_ i: Int) -> Int {
        var j = i
        while true {
            let n = spaceLength(at: j)
            if n == 0 { return j }
            j += n
        }
    }

    // MARK: top level

    private mutating func run() throws {
        while pos < bytes.count {
            // Find the next tag start.
            var j = pos
            var found = false
            while j + 1 < bytes.count {
                if bytes[j] == UInt8(ascii: "{") {
                    let n = bytes[j + 1]
                    if n == UInt8(ascii: "{") || n == UInt8(ascii: "%") || n == UInt8(ascii: "#") { found = true; break }
                }
                j += 1
            }
            if !found {
                emitData(text(pos, bytes.count), at: pos)
                break
            }
            let kindByte = bytes[j + 1]
            var afterOpen = j + 2
            var sign: UInt8 = 0
            if afterOpen < bytes.count, bytes[afterOpen] == UInt8(ascii: "-") || bytes[afterOpen] == UInt8(ascii: "+") {
                sign = bytes[afterOpen]
                afterOpen += 1
            }
            var data = text(pos, j)
            if sign == UInt8(ascii: "-") {
                data = PythonText.strip(data, leading: false)
            } else if sign != UInt8(ascii: "+") && kindByte != UInt8(ascii: "{") {
                data = lstripBlock(data)
            }
            emitData(data, at: pos)
            lineStarting = false
            switch kindByte {
            case UInt8(ascii: "#"): try comment(from: afterOpen, start: j)
            case UInt8(ascii: "%"):
                if let end = rawBlockStart(afterOpen) {
                    try rawBlock(from: end, start: j)
                } else {
                    tokens.append(Token(kind: .blockBegin, offset: j))
                    pos = afterOpen
                    try tagBody(isBlock: true, start: j)
                }
            default:
                tokens.append(Token(kind: .variableBegin, offset: j))
                pos = afterOpen
                try tagBody(isBlock: false, start: j)
            }
        }
        tokens.append(Token(kind: .eof, offset: bytes.count))
    }

    private mutating func emitData(_ s: String, at offset: Int) {
        if !s.isEmpty { tokens.append(Token(kind: .data(s), offset: offset)) }
    }

    /// lstrip_blocks: drop spaces between the last newline (or the start of a
    /// line) and the tag, if nothing else is there.
    private func lstripBlock(_ data: String) -> String {
        let scalars = data.unicodeScalars
        var lineStart = scalars.endIndex
        while lineStart > scalars.startIndex, scalars[scalars.index(before: lineStart)] != "\n" {
            lineStart = scalars.index(before: lineStart)
        }
        guard lineStart > scalars.startIndex || lineStarting else { return data }
        guard lineStart < scalars.endIndex, scalars[lineStart...].allSatisfy(PythonText.isSpace) else { return data }
        return String(scalars[..<lineStart])
    }

    /// Consumes a tag's closing delimiter at `i`: "+%}" keeps the newline,
    /// "-%}" eats all following whitespace, "%}" eats one newline (blocks
    /// and comments only). Returns the position after it, or nil.
    private mutating func closing(at i: Int, _ close: StaticString, trimNewline: Bool) -> Int? {
        var end: Int? = nil
        if at(i, "+"), at(i + 1, close) {
            end = i + 1 + close.utf8CodeUnitCount
        } else if at(i, "-"), at(i + 1, close) {
            end = skipSpaces(i + 1 + close.utf8CodeUnitCount)
        } else if at(i, close) {
            end = i + close.utf8CodeUnitCount
            if trimNewline, end! < bytes.count, bytes[end!] == 0x0A { end! += 1 }
        }
        if let end { lineStarting = bytes[end - 1] == 0x0A }
        return end
    }

    private mutating func comment(from i: Int, start: Int) throws {
        var j = i
        while j < bytes.count {
            if let end = closing(at: j, "#}", trimNewline: true) {
                pos = end
                return
            }
            j += 1
        }
        throw error("Missing end of comment tag", at: start)
    }

    /// `{% raw %}` (with optional -/+): returns the position after it.
    private func rawBlockStart(_ i: Int) -> Int? {
        var j = skipSpaces(i)
        guard at(j, "raw") else { return nil }
        j = skipSpaces(j + 3)
        if at(j, "-%}") { return skipSpaces(j + 3) }
        if at(j, "%}") { return j + 2 }
        return nil
    }

    private mutating func rawBlock(from i: Int, start: Int) throws {
        var j = i
        while j + 1 < bytes.count {
            if bytes[j] == UInt8(ascii: "{"), bytes[j + 1] == UInt8(ascii: "%") {
                var k = j + 2
                var sign: UInt8 = 0
                if k < bytes.count, bytes[k] == UInt8(ascii: "-") || bytes[k] == UInt8(ascii: "+") { sign = bytes[k]; k += 1 }
                k = skipSpaces(k)
                if at(k, "endraw") {
                    k = skipSpaces(k + 6)
                    if let end = closing(at: k, "%}", trimNewline: true) {
                        var data = text(i, j)
                        if sign == UInt8(ascii: "-") {
                            data = PythonText.strip(data, leading: false)
                        } else if sign != UInt8(ascii: "+") {
                            lineStarting = false
                            data = lstripBlock(data)
                        }
                        emitData(data, at: i)
                        pos = end
                        return
                    }
                }
            }
            j += 1
        }
        throw error("Missing end of raw directive", at: start)
    }

    // MARK: inside {{ }} and {% %}

    private mutating func tagBody(isBlock: Bool, start: Int) throws {
        var brackets: [UInt8] = []
        while true {
            pos = skipSpaces(pos)
            guard pos < bytes.count else {
                throw error("unexpected end of template, expected '\(isBlock ? "end of statement block" : "end of print statement")'.", at: start)
            }
            if brackets.isEmpty {
                let end = isBlock ? closing(at: pos, "%}", trimNewline: true) : closing(at: pos, "}}", trimNewline: false)
                if let end {
                    tokens.append(Token(kind: isBlock ? .blockEnd : .variableEnd, offset: pos))
                    pos = end
                    return
                }
            }
            let c = bytes[pos]
            if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                try stringLiteral(quote: c)
            } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) {
                try number()
            } else if c == UInt8(ascii: "_") || (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") || c >= 0x80 {
                let s = pos
                while pos < bytes.count {
                    let d = bytes[pos]
                    let ok = d == UInt8(ascii: "_") || (d | 0x20) >= UInt8(ascii: "a") && (d | 0x20) <= UInt8(ascii: "z")
                        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(d) || (d >= 0x80 && spaceLength(at: pos) == 0)
                    if !ok { break }
                    pos += 1
                }
                tokens.append(Token(kind: .name(text(s, pos)), offset: s))
            } else {
                try op(&brackets)
            }
        }
    }

    private static let twoCharOps: [StaticString] = ["//", "**", "==", "!=", ">=", "<="]
    private static let oneCharOps = Set("+-/*%~[](){}><=.:|,;".utf8)

    private mutating func op(_ brackets: inout [UInt8]) throws {
        for o in Self.twoCharOps where at(pos, o) {
            tokens.append(Token(kind: .op(o.description), offset: pos))
            pos += 2
            return
        }
        let c = bytes[pos]
        guard Self.oneCharOps.contains(c) else {
            let shown = String(decoding: bytes[pos..<min(pos + 4, bytes.count)], as: UTF8.self).prefix(1)
            throw error("unexpected char '\(shown)'", at: pos)
        }
        switch c {
        case UInt8(ascii: "("): brackets.append(UInt8(ascii: ")"))
        case UInt8(ascii: "["): brackets.append(UInt8(ascii: "]"))
        case UInt8(ascii: "{"): brackets.append(UInt8(ascii: "}"))
        case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"):
            guard let expected = brackets.popLast() else { throw error("unexpected '\(Character(Unicode.Scalar(c)))'", at: pos) }
            if expected != c {
                throw error("unexpected '\(Character(Unicode.Scalar(c)))', expected '\(Character(Unicode.Scalar(expected)))'", at: pos)
            }
        default: break
        }
        tokens.append(Token(kind: .op(String(Character(Unicode.Scalar(c)))), offset: pos))
        pos += 1
    }

    private mutating func number() throws {
        let start = pos
        func digits(_ lexer: inout JinjaLexer, _ valid: (UInt8) -> Bool) {
            while lexer.pos < lexer.bytes.count, valid(lexer.bytes[lexer.pos]) || (lexer.bytes[lexer.pos] == UInt8(ascii: "_")
                && lexer.pos + 1 < lexer.bytes.count && valid(lexer.bytes[lexer.pos + 1])) { lexer.pos += 1 }
        }
        let isDigit: (UInt8) -> Bool = { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        if bytes[pos] == UInt8(ascii: "0"), pos + 1 < bytes.count, let radix = ["b": 2, "o": 8, "x": 16][Character(Unicode.Scalar(bytes[pos + 1] | 0x20))] {
            pos += 2
            let s = pos
            digits(&self) { Int(String(Character(Unicode.Scalar($0))), radix: radix) != nil }
            guard let v = Int(text(s, pos).replacing("_", with: ""), radix: radix) else { throw error("invalid integer literal", at: start) }
            tokens.append(Token(kind: .integer(v), offset: start))
            return
        }
        digits(&self, isDigit)
        var isFloat = false
        let afterDot = start > 0 && bytes[start - 1] == UInt8(ascii: ".")
        if !afterDot, pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "."), isDigit(bytes[pos + 1]) {
            isFloat = true
            pos += 1
            digits(&self, isDigit)
        }
        if !afterDot, pos < bytes.count, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            var k = pos + 1
            if k < bytes.count, bytes[k] == UInt8(ascii: "+") || bytes[k] == UInt8(ascii: "-") { k += 1 }
            if k < bytes.count, isDigit(bytes[k]) {
                isFloat = true
                pos = k
                digits(&self, isDigit)
            }
        }
        let literal = text(start, pos).replacing("_", with: "")
        if isFloat {
            guard let d = Double(literal) else { throw error("invalid float literal", at: start) }
            tokens.append(Token(kind: .float(d), offset: start))
        } else {
            guard let v = Int(literal) else { throw error("integer literal \(literal) is too large", at: start) }
            tokens.append(Token(kind: .integer(v), offset: start))
        }
    }

    /// A quoted string with Python's `unicode-escape` decoding, which is
    /// what jinja2 applies to string literals.
    private mutating func stringLiteral(quote: UInt8) throws {
        let start = pos
        pos += 1
        var out = String.UnicodeScalarView()
        var plain = pos
        func flush(_ lexer: JinjaLexer, _ upTo: Int) {
            out.append(contentsOf: String(decoding: lexer.bytes[plain..<upTo], as: UTF8.self).unicodeScalars)
        }
        while pos < bytes.count {
            let c = bytes[pos]
            if c == quote {
                flush(self, pos)
                pos += 1
                tokens.append(Token(kind: .string(String(out)), offset: start))
                return
            }
            if c != UInt8(ascii: "\\") { pos += 1; continue }
            flush(self, pos)
            guard pos + 1 < bytes.count else { break }
            let e = bytes[pos + 1]
            pos += 2
            switch e {
            case UInt8(ascii: "\n"): break
            case UInt8(ascii: "\\"): out.append("\\")
            case UInt8(ascii: "'"): out.append("'")
            case UInt8(ascii: "\""): out.append("\"")
            case UInt8(ascii: "a"): out.append("\u{07}")
            case UInt8(ascii: "b"): out.append("\u{08}")
            case UInt8(ascii: "f"): out.append("\u{0C}")
            case UInt8(ascii: "n"): out.append("\n")
            case UInt8(ascii: "r"): out.append("\r")
            case UInt8(ascii: "t"): out.append("\t")
            case UInt8(ascii: "v"): out.append("\u{0B}")
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var v = UInt32(e - UInt8(ascii: "0"))
                var n = 1
                while n < 3, pos < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(bytes[pos]) {
                    v = v * 8 + UInt32(bytes[pos] - UInt8(ascii: "0"))
                    pos += 1
                    n += 1
                }
                out.append(try scalar(v, at: start))
            case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                let width = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
                guard pos + width <= bytes.count, let v = UInt32(text(pos, pos + width), radix: 16) else {
                    throw error("truncated \\\(Character(Unicode.Scalar(e))) escape in string", at: start)
                }
                pos += width
                out.append(try scalar(v, at: start))
            case UInt8(ascii: "N"):
                throw JinjaError(.unsupported, "\\N{...} escapes in strings are not supported", line: location(of: start).line, column: location(of: start).column)
            default:
                out.append("\\")
                pos -= 1  // the escaped character is kept as written
            }
            plain = pos
        }
        throw error("unterminated string literal", at: start)
    }

    private func scalar(_ v: UInt32, at offset: Int) throws -> Unicode.Scalar {
        guard let s = Unicode.Scalar(v) else { throw error("escape \\u\(String(v, radix: 16)) is not a Unicode scalar", at: offset) }
        return s
    }
}
