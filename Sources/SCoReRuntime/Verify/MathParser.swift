/// Reads a math answer into a `MathValue`, as MATH answers are written:
/// numbers, fractions (`\frac12`, `2\frac{1}{3}` as a mixed number),
/// roots, powers, factorials, functions, implicit products, relations,
/// sets, tuples, intervals and unions, matrices, text, units and percents.
///
/// Recursive descent over `MathLexer`'s tokens with the nesting bounded,
/// so no input can exhaust the stack; anything it cannot read is nil.
struct MathParser {
    private var tokens: [MathToken]
    private var position = 0
    private var depth = 0
    static let maxDepth = 200

    private init(_ tokens: [MathToken]) { self.tokens = tokens }

    /// The answer written in `text`, or nil if it is not readable math.
    static func parse(_ text: [UInt8]) -> MathValue? {
        guard var tokens = MathLexer.tokens(text) else { return nil }
        tokens = droppingUnits(tokens)
        guard !tokens.isEmpty else { return nil }
        var parser = MathParser(tokens)
        // Every branch of value() reads its tokens to the end or fails.
        return try? parser.value()
    }

    private struct Unreadable: Error {}

    // MARK: values (top level)

    private mutating func value() throws -> MathValue {
        if tokens.count == 1, case .text(let t) = tokens[0] {
            // \text{5} is the number 5.
            if !t.isEmpty, t.utf8.allSatisfy(AnswerText.isDigit) { return .expression(.integer(t), percent: false) }
            return .text(Self.word(t))
        }
        if tokens.count == 1, case .command(let c) = tokens[0], c == "emptyset" || c == "varnothing" { return .set([]) }
        if case .begin(let env)? = peek, env.hasSuffix("matrix") { return try matrix(env) }
        // A scalar times a matrix: 2\begin{pmatrix}…\end{pmatrix}.
        if let k = tokens.firstIndex(where: { if case .begin(let e) = $0 { return e.hasSuffix("matrix") } else { return false } }), k > 0 {
            var scalarParser = try sub(Array(tokens[..<k]))
            let scalar = try scalarParser.wholeExpression()
            var matrixParser = try sub(Array(tokens[k...]))
            guard case .matrix(let rows) = try matrixParser.value() else { throw Unreadable() }
            return .matrix(rows.map { $0.map { MathExpr.product([scalar, $0]) } })
        }
        let parts = splitTopLevel { $0 == .symbol(UInt8(ascii: ",")) }
        if parts.count > 1 {
            if let number = Self.thousands(parts.map { Array(tokens[$0]) }) { return .expression(number, percent: false) }
            return .set(try parts.map { try element(of: Array(tokens[$0])) })
        }
        return try element()
    }

    /// A parser for part of this one's tokens, as deep as this one.
    private func sub(_ tokens: [MathToken]) throws -> MathParser {
        var p = MathParser(tokens)
        p.depth = depth + 1
        if p.depth > Self.maxDepth { throw Unreadable() }
        return p
    }

    private func element(of tokens: [MathToken]) throws -> MathValue {
        var p = try sub(tokens)
        let v = try p.element()
        guard p.position == tokens.count else { throw Unreadable() }
        return v
    }

    /// One item: a union, a relation, a bracketed list, an interval or an expression.
    private mutating func element() throws -> MathValue {
        guard !tokens.isEmpty else { throw Unreadable() }
        let unionParts = splitTopLevel { $0 == .cup }
        if unionParts.count > 1 {
            let items = try unionParts.map { range -> MathValue in
                var p = try sub(Array(tokens[range]))
                return try p.element()
            }
            position = tokens.count
            return .union(items)
        }
        let relationParts = splitTopLevel { if case .relation = $0 { return true } else { return false } }
        if relationParts.count > 1 {
            var sides: [MathExpr] = [], relations: [MathRelation] = []
            for (k, range) in relationParts.enumerated() {
                var p = try sub(Array(tokens[range]))
                sides.append(try p.wholeExpression())
                if k + 1 < relationParts.count, case .relation(let r) = tokens[range.upperBound] { relations.append(r) }
            }
            position = tokens.count
            return .relation(sides, relations)
        }
        if let bracketed = try bracketedList() { position = tokens.count; return bracketed }
        if tokens.count == 1, case .command(let c) = tokens[0], c == "mathbbR" {
            position = 1
            return .interval(.negation(.infinity), .infinity, lowerOpen: true, upperOpen: true)
        }
        var percent = false
        if case .percent? = tokens.last { percent = true; tokens.removeLast() }
        let e = try wholeExpression()
        return .expression(e, percent: percent)
    }

    /// `(a, b)`, `[a, b)`, `\{a, b\}`: one bracket pair around the whole, with commas inside.
    private mutating func bracketedList() throws -> MathValue? {
        guard let first = tokens.first, let last = tokens.last, tokens.count >= 2 else { return nil }
        let opensSet = first == .setOpen, closesSet = last == .setClose
        var open: UInt8 = 0, close: UInt8 = 0
        if case .open(let o) = first { open = o }
        if case .close(let c) = last { close = c }
        guard (opensSet && closesSet) || (open != 0 && open != UInt8(ascii: "{") && close != 0 && close != UInt8(ascii: "}")) else {
            return nil
        }
        guard Self.matchingClose(tokens, from: 0) == tokens.count - 1 else { return nil }
        let inner = Array(tokens[1..<(tokens.count - 1)])
        var p = try sub(inner)
        let parts = p.splitTopLevel { $0 == .symbol(UInt8(ascii: ",")) }
        if opensSet {
            if inner.isEmpty { return .set([]) }
            return .set(try parts.map { try element(of: Array(inner[$0])) })
        }
        guard parts.count >= 2 else { return nil }
        let items = try parts.map { try element(of: Array(inner[$0])) }
        if parts.count == 2, open != UInt8(ascii: "(") || close != UInt8(ascii: ")"),
           case .expression(let lo, _) = items[0], case .expression(let hi, _) = items[1] {
            return .interval(lo, hi, lowerOpen: open == UInt8(ascii: "("), upperOpen: close == UInt8(ascii: ")"))
        }
        guard open == UInt8(ascii: "("), close == UInt8(ascii: ")") else { throw Unreadable() }
        return .tuple(items)
    }

    private mutating func matrix(_ env: String) throws -> MathValue {
        guard case .end(let closing)? = tokens.last, closing == env else { throw Unreadable() }
        let body = Array(tokens[1..<(tokens.count - 1)])
        var rows: [[MathExpr]] = []
        var p = try sub(body)
        for rowRange in p.splitTopLevel(where: { $0 == .rowBreak }) {
            let row = Array(body[rowRange])
            if row.isEmpty { continue }
            var q = try sub(row)
            let cells = try q.splitTopLevel { $0 == .symbol(UInt8(ascii: "&")) }.map { range -> MathExpr in
                var c = try sub(Array(row[range]))
                return try c.wholeExpression()
            }
            rows.append(cells)
        }
        guard let width = rows.first?.count, width > 0, rows.allSatisfy({ $0.count == width }) else { throw Unreadable() }
        position = tokens.count
        return .matrix(rows)
    }

    private mutating func wholeExpression() throws -> MathExpr {
        let e = try expression()
        guard position == tokens.count else { throw Unreadable() }
        return e
    }

    // MARK: expressions

    private mutating func expression() throws -> MathExpr {
        try enter()
        defer { depth -= 1 }
        var terms: [MathExpr] = []
        var negate = false
        if peek == .symbol(UInt8(ascii: "-")) { negate = true; position += 1 } else if peek == .symbol(UInt8(ascii: "+")) { position += 1 }
        var t = try term()
        terms.append(negate ? .negation(t) : t)
        while let op = peek, op == .symbol(UInt8(ascii: "+")) || op == .symbol(UInt8(ascii: "-")) {
            position += 1
            t = try term()
            terms.append(op == .symbol(UInt8(ascii: "-")) ? .negation(t) : t)
        }
        return terms.count == 1 ? terms[0] : .sum(terms)
    }

    private mutating func term() throws -> MathExpr {
        var result = try factor()
        // A mixed number: an integer directly followed by \frac{int}{int}.
        if case .integer = result, case .command("frac")? = peek, let fraction = try? lookaheadIntegerFraction() {
            result = .sum([result, fraction])
        }
        while let next = peek {
            if next == .symbol(UInt8(ascii: "*")) {
                position += 1
                result = .product([result, try factor()])
            } else if next == .symbol(UInt8(ascii: "/")) {
                position += 1
                result = .quotient(result, try factor())
            } else if startsFactor(next) {
                result = .product([result, try factor()])
            } else {
                break
            }
        }
        return result
    }

    private mutating func lookaheadIntegerFraction() throws -> MathExpr? {
        let saved = position
        let f = try primary()
        if case .quotient(.integer, .integer) = f { return f }
        position = saved
        return nil
    }

    private func startsFactor(_ t: MathToken) -> Bool {
        switch t {
        case .number, .letter, .setOpen: return true
        case .open(let o): return o != UInt8(ascii: "[")
        case .command(let c): return !MathParser.binaryOperators.contains(c)
        default: return false
        }
    }

    private static let binaryOperators: Set<String> = ["pm", "mp", "choose"]

    private mutating func factor() throws -> MathExpr {
        try enter()
        defer { depth -= 1 }
        if peek == .symbol(UInt8(ascii: "-")) { position += 1; return .negation(try factor()) }
        if peek == .symbol(UInt8(ascii: "+")) { position += 1; return try factor() }
        var base = try primary()
        while let next = peek {
            if next == .symbol(UInt8(ascii: "^")) {
                position += 1
                base = .power(base, try argument())
            } else if next == .symbol(UInt8(ascii: "!")) {
                position += 1
                base = .function("factorial", [base])
            } else {
                break
            }
        }
        return base
    }

    /// A one-token argument as TeX reads it (`x^23` is x² · 3, `\frac12` is ½), or a group.
    private mutating func argument() throws -> MathExpr {
        guard let t = peek else { throw Unreadable() }
        switch t {
        case .number(let digits) where digits.count > 1:
            let first = String(digits.prefix(1))
            tokens[position] = .number(String(digits.dropFirst()))
            return .integer(first)
        case .open(UInt8(ascii: "{")):
            return try primary()
        case .symbol(UInt8(ascii: "-")):
            position += 1
            return .negation(try argument())
        default:
            return try primary()
        }
    }

    /// `\sin(x)`, `\sin{x}`, or without brackets a run of numbers and
    /// letters: `\sin 2x` is sin(2x), `\sin x \cos x` is sin(x)·cos(x).
    private mutating func functionArgument() throws -> MathExpr {
        guard let t = peek else { throw Unreadable() }
        switch t {
        case .open, .setOpen, .command: return try factor()
        default: break
        }
        var factors: [MathExpr] = []
        while let t = peek {
            switch t {
            case .number, .letter: factors.append(try primaryWithPowers())
            default: break
            }
            if factors.isEmpty { throw Unreadable() }
            guard let n = peek, n != t || factors.count > 0 else { break }
            if case .number = n { continue }
            if case .letter = n { continue }
            break
        }
        guard !factors.isEmpty else { throw Unreadable() }
        return factors.count == 1 ? factors[0] : .product(factors)
    }

    private mutating func primaryWithPowers() throws -> MathExpr {
        var base = try primary()
        while peek == .symbol(UInt8(ascii: "^")) {
            position += 1
            base = .power(base, try argument())
        }
        return base
    }

    private static let functions: Set<String> = [
        "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
        "log", "ln", "exp", "lg",
    ]
    private static let greek: Set<String> = [
        "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa",
        "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
        "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
    ]

    private mutating func primary() throws -> MathExpr {
        try enter()
        defer { depth -= 1 }
        guard let t = next() else { throw Unreadable() }
        switch t {
        case .number(let n):
            if n.contains(".") {
                let trimmed = n.hasPrefix(".") ? "0" + n : n
                return .decimal(trimmed)
            }
            return .integer(n)
        case .letter(let l):
            return try subscripted(l == "e" ? .euler : (l == "i" ? .imaginary : .symbol(l)), name: l)
        case .open(let o):
            let closing: UInt8 = o == UInt8(ascii: "(") ? UInt8(ascii: ")") : o == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: "}")
            if o == UInt8(ascii: "{"), peek == .close(closing) { throw Unreadable() }
            let e = try expression()
            if o == UInt8(ascii: "{"), peek == .command("choose") {
                position += 1
                let k = try expression()
                guard next() == .close(closing) else { throw Unreadable() }
                return .function("binom", [e, k])
            }
            guard next() == .close(closing) else { throw Unreadable() }
            return e
        case .setOpen:
            let e = try expression()
            guard next() == .setClose else { throw Unreadable() }
            return e
        case .symbol(UInt8(ascii: "|")):
            let e = try expression()
            guard next() == .symbol(UInt8(ascii: "|")) else { throw Unreadable() }
            return .function("abs", [e])
        case .command(let name):
            return try command(name)
        default:
            throw Unreadable()
        }
    }

    private mutating func subscripted(_ e: MathExpr, name: String) throws -> MathExpr {
        guard peek == .symbol(UInt8(ascii: "_")) else { return e }
        position += 1
        let sub = try argument()
        return .symbol(name + "_" + Self.key(sub))
    }

    private mutating func command(_ name: String) throws -> MathExpr {
        switch name {
        case "frac":
            let n = try argument(), d = try argument()
            return .quotient(n, d)
        case "sqrt":
            if peek == .open(UInt8(ascii: "[")) {
                position += 1
                let index = try expression()
                guard next() == .close(UInt8(ascii: "]")) else { throw Unreadable() }
                return .function("root", [index, try argument()])
            }
            return .function("sqrt", [try argument()])
        case "binom":
            let n = try argument(), k = try argument()
            return .function("binom", [n, k])
        case "pi": return .pi
        case "infty", "infin": return .infinity
        case "e": return .euler
        default: break
        }
        if Self.greek.contains(name) { return try subscripted(.symbol(name), name: name) }
        guard Self.functions.contains(name) else { throw Unreadable() }
        var power: MathExpr?
        var base: MathExpr?
        if name == "log", peek == .symbol(UInt8(ascii: "_")) { position += 1; base = try argument() }
        if peek == .symbol(UInt8(ascii: "^")) { position += 1; power = try argument() }
        let arg = try functionArgument()
        var call = MathExpr.function(name, base.map { [arg, $0] } ?? [arg])
        if let power { call = .power(call, power) }
        return call
    }

    // MARK: helpers

    private var peek: MathToken? { position < tokens.count ? tokens[position] : nil }

    private mutating func next() -> MathToken? {
        guard position < tokens.count else { return nil }
        position += 1
        return tokens[position - 1]
    }

    private mutating func enter() throws {
        depth += 1
        if depth > Self.maxDepth { throw Unreadable() }
    }

    /// Ranges of `tokens` between separators at bracket depth 0.
    private func splitTopLevel(where isSeparator: (MathToken) -> Bool) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = 0, depth = 0
        for (k, t) in tokens.enumerated() {
            switch t {
            case .open, .setOpen, .begin: depth += 1
            case .close, .setClose, .end: depth -= 1
            default:
                if depth == 0, isSeparator(t) {
                    parts.append(start..<k)
                    start = k + 1
                }
            }
        }
        parts.append(start..<tokens.count)
        return parts
    }

    /// Where the bracket opened at `start` closes (any bracket kind: "(0,1]" is one group).
    private static func matchingClose(_ tokens: [MathToken], from start: Int) -> Int? {
        var depth = 0
        for k in start..<tokens.count {
            switch tokens[k] {
            case .open, .setOpen, .begin: depth += 1
            case .close, .setClose, .end:
                depth -= 1
                if depth == 0 { return k }
            default: break
            }
        }
        return nil
    }

    /// "1,234,567" split at its commas: one number when every group after the first has three digits.
    private static func thousands(_ parts: [[MathToken]]) -> MathExpr? {
        var digits = ""
        for (k, part) in parts.enumerated() {
            var p = part[...]
            if k == 0, p.first == .symbol(UInt8(ascii: "-")) { digits = "-"; p = p.dropFirst() }
            guard p.count == 1, case .number(let n) = p.first! else { return nil }
            let whole = n.split(separator: ".", omittingEmptySubsequences: false)[0]
            if k == 0 { guard (1...3).contains(whole.count), !n.contains(".") || parts.count == 1 else { return nil } }
            else {
                guard whole.count == 3, !n.contains(".") || k == parts.count - 1 else { return nil }
            }
            digits += n
        }
        let negative = digits.hasPrefix("-")
        let body = negative ? String(digits.dropFirst()) : digits
        let number: MathExpr = body.contains(".") ? .decimal(body) : .integer(body)
        return negative ? .negation(number) : number
    }

    /// Units written as text after a quantity are not part of the answer:
    /// "5\text{ cm}^2" is 5.
    private static func droppingUnits(_ tokens: [MathToken]) -> [MathToken] {
        var out: [MathToken] = []
        var k = 0
        while k < tokens.count {
            if case .text = tokens[k], !out.isEmpty, tokens.count > 1 {
                k += 1
                // A power of the unit: ^2, ^{2}.
                if k < tokens.count, tokens[k] == .symbol(UInt8(ascii: "^")) {
                    k += 1
                    if k < tokens.count, case .open(UInt8(ascii: "{")) = tokens[k], let close = matchingClose(tokens, from: k) { k = close + 1 }
                    else { k += 1 }
                }
                continue
            }
            out.append(tokens[k])
            k += 1
        }
        if out.count > 1, case .text = out[0] { out.removeFirst() }
        return out
    }

    /// "(A)" -> "A", "  Monday " -> "Monday": how text answers are compared.
    static func word(_ t: String) -> String {
        var s = Substring(t)
        while s.first == " " { s.removeFirst() }
        while s.last == " " || s.last == "." { s.removeLast() }
        if s.count >= 3, s.first == "(", s.last == ")" { s = s.dropFirst().dropLast() }
        return String(s)
    }

    /// A stable spelling of an expression, for symbol names and atoms.
    static func key(_ e: MathExpr) -> String {
        switch e {
        case .integer(let n): return n
        case .decimal(let d): return d
        case .symbol(let s): return s
        case .pi: return "pi"
        case .euler: return "e"
        case .imaginary: return "i"
        case .infinity: return "oo"
        case .sum(let t): return "(" + t.map(key).joined(separator: "+") + ")"
        case .product(let f): return "(" + f.map(key).joined(separator: "*") + ")"
        case .negation(let x): return "-(" + key(x) + ")"
        case .quotient(let a, let b): return "(" + key(a) + "/" + key(b) + ")"
        case .power(let a, let b): return "(" + key(a) + "^" + key(b) + ")"
        case .function(let f, let args): return f + "(" + args.map(key).joined(separator: ",") + ")"
        }
    }
}
