/// Splits LaTeX (or plain) math into tokens, dropping what only changes how
/// it looks: `\left`, spacing commands, `\displaystyle`, `\$`, degree signs.
enum MathToken: Equatable, Sendable {
    /// Digits with an optional fraction: "12", "0.5", ".5".
    case number(String)
    /// One letter, or a named symbol such as "alpha".
    case letter(String)
    /// A command that takes arguments or stands for a value: "frac", "sqrt", "sin", "pi".
    case command(String)
    /// The content of `\text{…}` and its kin, spaces trimmed.
    case text(String)
    /// One of + - * / ^ _ ! , & |
    case symbol(UInt8)
    case open(UInt8)   // ( [ {
    case close(UInt8)  // ) ] }
    case setOpen, setClose
    case relation(MathRelation)
    case cup
    case percent
    case rowBreak
    case begin(String)
    case end(String)
}

enum MathLexer {
    /// Tokens of `s`; nil for input the verifier does not read (too long).
    static func tokens(_ text: [UInt8]) -> [MathToken]? {
        guard text.count <= maxLength else { return nil }
        // "1{,}000" is how LaTeX writes a thousands separator.
        let s = AnswerText.replacing(Array("{,}".utf8), with: [AnswerText.comma], in: text)
        var out: [MathToken] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let b = s[i]
            if AnswerText.isSpace(b) || b == UInt8(ascii: "$") || b == UInt8(ascii: "~") { i += 1; continue }
            if AnswerText.isDigit(b) || (b == UInt8(ascii: ".") && i + 1 < s.count && AnswerText.isDigit(s[i + 1])) {
                var j = i
                while j < s.count, AnswerText.isDigit(s[j]) { j += 1 }
                if j + 1 < s.count, s[j] == UInt8(ascii: "."), AnswerText.isDigit(s[j + 1]) {
                    j += 1
                    while j < s.count, AnswerText.isDigit(s[j]) { j += 1 }
                }
                out.append(.number(AnswerText.string(s[i..<j])))
                i = j
                continue
            }
            if AnswerText.isLetter(b) { out.append(.letter(String(UnicodeScalar(b)))); i += 1; continue }
            if b == 0xC2, i + 1 < s.count, s[i + 1] == 0xB0 { i += 2; continue }  // °
            if b == AnswerText.backslash {
                i = command(s, at: i, into: &out)
                continue
            }
            switch b {
            case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "{"): out.append(.open(b))
            case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"): out.append(.close(b))
            case UInt8(ascii: "%"): out.append(.percent)
            case UInt8(ascii: "="): out.append(.relation(.equal))
            case UInt8(ascii: "<"):
                if i + 1 < s.count, s[i + 1] == UInt8(ascii: "=") { out.append(.relation(.lessOrEqual)); i += 1 } else { out.append(.relation(.less)) }
            case UInt8(ascii: ">"):
                if i + 1 < s.count, s[i + 1] == UInt8(ascii: "=") { out.append(.relation(.greaterOrEqual)); i += 1 } else { out.append(.relation(.greater)) }
            case UInt8(ascii: "^"):
                // ^\circ and ^{\circ} are degree signs: dropped.
                if let end = degreeSign(s, after: i) { i = end; continue }
                out.append(.symbol(b))
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "*"), UInt8(ascii: "/"), UInt8(ascii: "_"),
                 UInt8(ascii: "!"), UInt8(ascii: ","), UInt8(ascii: "&"), UInt8(ascii: "|"):
                out.append(.symbol(b))
            case UInt8(ascii: ";"): out.append(.symbol(UInt8(ascii: ",")))  // "\{2; 3\}"
            case UInt8(ascii: "'"), UInt8(ascii: ":"), UInt8(ascii: "?"):
                out.append(.text(String(UnicodeScalar(b))))
            default:
                // Any other byte (non-ASCII text) reads as text.
                var j = i + 1
                while j < s.count, s[j] >= 0x80, s[j] & 0xC0 == 0x80 { j += 1 }
                out.append(.text(AnswerText.string(s[i..<j])))
                i = j
                continue
            }
            i += 1
        }
        return out
    }

    static let maxLength = 4096

    private static let invisible: Set<String> = [
        "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr",
        "displaystyle", "textstyle", "scriptstyle", "limits", "quad", "qquad", ",", "!", ";", ":", " ", "$",
        "degree", "circ", "middle", "hfill", "nonumber", "phantom",
    ]
    private static let textCommands: Set<String> = [
        "text", "textrm", "textnormal", "textup", "textit", "textbf", "textsf", "texttt", "mbox", "mathrm", "mathit", "mathsf", "operatorname",
    ]
    /// Commands that only style their argument: `\mathbf{x}` is x.
    private static let transparent: Set<String> = ["mathbf", "boldsymbol", "bm", "boxed", "fbox", "mathnormal", "overline", "underline", "hat", "vec", "bar"]
    private static let relations: [String: MathRelation] = [
        "le": .lessOrEqual, "leq": .lessOrEqual, "leqslant": .lessOrEqual, "ge": .greaterOrEqual, "geq": .greaterOrEqual,
        "geqslant": .greaterOrEqual, "ne": .notEqual, "neq": .notEqual, "lt": .less, "gt": .greater,
    ]

    /// Reads the command at `i` (a backslash) and returns where it ends.
    private static func command(_ s: [UInt8], at i: Int, into out: inout [MathToken]) -> Int {
        let end = AnswerText.commandEnd(in: s, at: i)
        let name = AnswerText.string(s[(i + 1)..<end])
        // A thin space between digit groups is a thousands separator: 5\,000.
        if name == "," || name == "!" || name == " ", case .number(let digits)? = out.last, !digits.contains("."),
           end + 3 <= s.count, s[end..<(end + 3)].allSatisfy(AnswerText.isDigit),
           end + 3 == s.count || !AnswerText.isDigit(s[end + 3]) {
            out[out.count - 1] = .number(digits + AnswerText.string(s[end..<(end + 3)]))
            return end + 3
        }
        if invisible.contains(name) { return end }
        if end == i + 1 { return end }  // a lone backslash at the end
        switch name {
        case "{", "lbrace": out.append(.setOpen); return end
        case "}", "rbrace": out.append(.setClose); return end
        case "%": out.append(.percent); return end
        case "\\": out.append(.rowBreak); return end
        case "cdot", "times", "ast": out.append(.symbol(UInt8(ascii: "*"))); return end
        case "div": out.append(.symbol(UInt8(ascii: "/"))); return end
        case "cup": out.append(.cup); return end
        case "vert", "lvert", "rvert", "mid": out.append(.symbol(UInt8(ascii: "|"))); return end
        case "dfrac", "tfrac", "cfrac": out.append(.command("frac")); return end
        case "dbinom", "tbinom": out.append(.command("binom")); return end
        case "begin", "end":
            var j = end
            while j < s.count, AnswerText.isSpace(s[j]) { j += 1 }
            guard j < s.count, s[j] == AnswerText.openBrace, let close = AnswerText.closingBrace(in: s, openingAt: j) else {
                out.append(.letter(name)); return end
            }
            let env = AnswerText.string(s[(j + 1)..<close])
            out.append(name == "begin" ? .begin(env) : .end(env))
            return close + 1
        default: break
        }
        if let relation = relations[name] { out.append(.relation(relation)); return end }
        if textCommands.contains(name) || transparent.contains(name) || name == "mathbb" {
            var j = end
            while j < s.count, AnswerText.isSpace(s[j]) { j += 1 }
            guard j < s.count, s[j] == AnswerText.openBrace, let close = AnswerText.closingBrace(in: s, openingAt: j) else {
                return end  // a bare \text: nothing to read
            }
            if name == "mathbb" {
                out.append(.command("mathbb" + AnswerText.string(s[(j + 1)..<close])))
                return close + 1
            }
            if transparent.contains(name) { return end }  // its braces stay a group
            let content = AnswerText.string(AnswerText.trimmed(s[(j + 1)..<close]))
            // "x = 4 \text{ or } x = -1": a list of answers.
            if content == "or" || content == "and" { out.append(.symbol(UInt8(ascii: ","))) } else { out.append(.text(content)) }
            return close + 1
        }
        out.append(.command(name))
        return end
    }

    /// The end of `^\circ` / `^{\circ}` starting at the caret, if that is what is there.
    private static func degreeSign(_ s: [UInt8], after caret: Int) -> Int? {
        var j = caret + 1
        while j < s.count, AnswerText.isSpace(s[j]) { j += 1 }
        let circ = Array("\\circ".utf8)
        if AnswerText.hasPrefix(s, at: j, circ) { return j + circ.count }
        guard j < s.count, s[j] == AnswerText.openBrace else { return nil }
        j += 1
        while j < s.count, AnswerText.isSpace(s[j]) { j += 1 }
        guard AnswerText.hasPrefix(s, at: j, circ) else { return nil }
        j += circ.count
        while j < s.count, AnswerText.isSpace(s[j]) { j += 1 }
        return j < s.count && s[j] == AnswerText.closeBrace ? j + 1 : nil
    }
}
