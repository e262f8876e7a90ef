/// Expression grammar, with jinja2's precedence (loosest first):
/// `x if c else y`, `or`, `and`, `not`, comparisons and `in`, `+ -`, `~`,
/// `* / // %`, `**` (left-associative, as in Jinja), unary `- +`, then
/// primaries with `.attr`, `[key]`, `[a:b:c]`, calls, `| filter` and `is test`.
extension JinjaParser {
    func node(_ kind: Expr.Kind, _ offset: Int, _ children: Expr?...) throws -> Expr {
        try node(kind, offset, children: children.compactMap { $0 })
    }

    func node(_ kind: Expr.Kind, _ offset: Int, children: [Expr]) throws -> Expr {
        var depth = 0
        for c in children { depth = max(depth, c.depth) }
        depth += 1
        if depth > limits.maxSyntaxDepth {
            throw fail("expression nested deeper than \(limits.maxSyntaxDepth)", .limit, at: offset)
        }
        return Expr(kind: kind, offset: offset, depth: depth)
    }

    /// An expression, or a tuple when commas follow (`{{ a, b }}`).
    mutating func parseTuple(withCondexpr: Bool = true, explicitParentheses: Bool = false) throws -> Expr {
        let offset = current.offset
        var items: [Expr] = []
        var sawComma = false
        while true {
            if !items.isEmpty {
                guard skipOp(",") else { break }
                sawComma = true
            }
            if isTupleEnd() { break }
            items.append(withCondexpr ? try parseExpression() : try parseOr())
            if !isOp(",") { break }
        }
        if !sawComma && !isOp(",") {
            if items.count == 1 { return items[0] }
            if !explicitParentheses { throw fail("Expected an expression, got \(describe(current))") }
        }
        return try node(.tuple(items), offset, children: items)
    }

    func isTupleEnd() -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .eof: return true
        case .op(let o): return o == ")" || o == "]" || o == "}" || o == "="
        case .name(let n): return n == "in" || n == "if" || n == "recursive"
        default: return false
        }
    }

    /// Bounds the parser's own recursion (parentheses, brackets, `not`,
    /// unary minus), which happens before any node exists to measure.
    mutating func enter() throws {
        nesting += 1
        if nesting > limits.maxSyntaxDepth {
            throw fail("expression nested deeper than \(limits.maxSyntaxDepth)", .limit)
        }
    }

    mutating func parseExpression() throws -> Expr {
        try enter()
        defer { nesting -= 1 }
        let offset = current.offset
        var e = try parseOr()
        while skipName("if") {
            let condition = try parseOr()
            let otherwise = skipName("else") ? try parseExpression() : nil
            e = try node(.conditional(condition: condition, then: e, otherwise: otherwise), offset, condition, e, otherwise)
        }
        return e
    }

    mutating func parseOr() throws -> Expr {
        let offset = current.offset
        var left = try parseAnd()
        while skipName("or") {
            let right = try parseAnd()
            left = try node(.or(left, right), offset, left, right)
        }
        return left
    }

    mutating func parseAnd() throws -> Expr {
        let offset = current.offset
        var left = try parseNot()
        while skipName("and") {
            let right = try parseNot()
            left = try node(.and(left, right), offset, left, right)
        }
        return left
    }

    mutating func parseNot() throws -> Expr {
        let offset = current.offset
        if skipName("not") {
            try enter()
            defer { nesting -= 1 }
            let inner = try parseNot()
            return try node(.not(inner), offset, inner)
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws -> Expr {
        let offset = current.offset
        let first = try parseMath1()
        var ops: [(CompareOp, Expr)] = []
        while true {
            var op: CompareOp? = nil
            if case .op(let o) = current.kind, let c = CompareOp(rawValue: o), c != .in, c != .notIn {
                op = c
                advance()
            } else if skipName("in") {
                op = .in
            } else if isName("not"), isName("in", next) {
                advance(); advance()
                op = .notIn
            }
            guard let op else { break }
            ops.append((op, try parseMath1()))
        }
        if ops.isEmpty { return first }
        return try node(.compare(first, ops), offset, children: [first] + ops.map(\.1))
    }

    private mutating func parseBinary(_ ops: [BinaryOp], _ operand: (inout JinjaParser) throws -> Expr) throws -> Expr {
        let offset = current.offset
        var left = try operand(&self)
        while case .op(let o) = current.kind, let op = BinaryOp(rawValue: o), ops.contains(op) {
            advance()
            let right = try operand(&self)
            left = try node(.binary(op, left, right), offset, left, right)
        }
        return left
    }

    mutating func parseMath1() throws -> Expr { try parseBinary([.add, .subtract]) { try $0.parseConcat() } }
    mutating func parseConcat() throws -> Expr { try parseBinary([.concat]) { try $0.parseMath2() } }
    mutating func parseMath2() throws -> Expr {
        try parseBinary([.multiply, .divide, .floorDivide, .modulo]) { try $0.parsePow() }
    }
    mutating func parsePow() throws -> Expr { try parseBinary([.power]) { try $0.parseUnary() } }

    mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        let offset = current.offset
        var e: Expr
        if isOp("-") || isOp("+") {
            let negative = isOp("-")
            advance()
            try enter()
            let inner = try parseUnary(withFilter: false)
            nesting -= 1
            e = try node(negative ? .negate(inner) : .plus(inner), offset, inner)
        } else {
            e = try parsePrimary()
        }
        e = try parsePostfix(e)
        if withFilter { e = try parseFilterExpression(e) }
        return e
    }

    mutating func parsePrimary() throws -> Expr {
        let t = current
        switch t.kind {
        case .name(let n):
            advance()
            switch n {
            case "true", "True": return try node(.literal(.bool(true)), t.offset)
            case "false", "False": return try node(.literal(.bool(false)), t.offset)
            case "none", "None": return try node(.literal(.none), t.offset)
            default: return try node(.name(n), t.offset)
            }
        case .string(var s):
            advance()
            while case .string(let more) = current.kind { s += more; advance() }
            return try node(.literal(.string(s)), t.offset)
        case .integer(let v):
            advance()
            return try node(.literal(.int(v)), t.offset)
        case .float(let v):
            advance()
            return try node(.literal(.double(v)), t.offset)
        case .op("("):
            advance()
            let e = try parseTuple(explicitParentheses: true)
            try expectOp(")")
            return e
        case .op("["):
            advance()
            var items: [Expr] = []
            while !isOp("]") {
                items.append(try parseExpression())
                if !skipOp(",") { break }
            }
            try expectOp("]")
            return try node(.list(items), t.offset, children: items)
        case .op("{"):
            advance()
            var pairs: [(Expr, Expr)] = []
            while !isOp("}") {
                let k = try parseExpression()
                try expectOp(":")
                pairs.append((k, try parseExpression()))
                if !skipOp(",") { break }
            }
            try expectOp("}")
            return try node(.dict(pairs), t.offset, children: pairs.flatMap { [$0.0, $0.1] })
        default:
            throw fail("unexpected \(describe(t))")
        }
    }

    mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var e = start
        while true {
            let offset = current.offset
            if skipOp(".") {
                switch current.kind {
                case .name(let n):
                    advance()
                    e = try node(.attribute(e, n), offset, e)
                case .integer(let v):
                    advance()
                    let key = try node(.literal(.int(v)), offset)
                    e = try node(.index(e, key), offset, e, key)
                default:
                    throw fail("expected name or number after '.'")
                }
            } else if skipOp("[") {
                e = try parseSubscript(e, offset)
            } else if isOp("(") {
                let args = try parseCallArguments()
                e = try node(.call(e, args), offset, children: [e] + args.positional + args.keyword.map(\.1))
            } else {
                return e
            }
        }
    }

    private mutating func parseSubscript(_ target: Expr, _ offset: Int) throws -> Expr {
        var parts: [Expr?] = [nil]
        var isSlice = false
        if !isOp(":") { parts[0] = try parseTuple(explicitParentheses: true) }
        while skipOp(":") {
            isSlice = true
            if parts.count == 3 { throw fail("invalid slice") }
            parts.append(isOp(":") || isOp("]") ? nil : try parseExpression())
        }
        try expectOp("]")
        if isSlice {
            while parts.count < 3 { parts.append(nil) }
            return try node(.slice(target, parts[0], parts[1], parts[2]), offset, target, parts[0], parts[1], parts[2])
        }
        return try node(.index(target, parts[0]!), offset, target, parts[0]!)
    }

    mutating func parseCallArguments() throws -> Arguments {
        try expectOp("(")
        var args = Arguments()
        while !isOp(")") {
            if isOp("*") || isOp("**") { throw fail("*args and **kwargs in calls are not supported", .unsupported) }
            if case .name(let n) = current.kind, isOp("=", next) {
                advance(); advance()
                args.keyword.append((n, try parseExpression()))
            } else {
                if !args.keyword.isEmpty { throw fail("positional argument after keyword argument") }
                args.positional.append(try parseExpression())
            }
            if !skipOp(",") { break }
        }
        try expectOp(")")
        return args
    }

    mutating func parseFilterExpression(_ start: Expr) throws -> Expr {
        var e = start
        while true {
            let offset = current.offset
            if skipOp("|") {
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                guard JinjaFilters.names.contains(name) else { throw fail("No filter named '\(name)'.", .assertion, at: offset) }
                let args = isOp("(") ? try parseCallArguments() : Arguments()
                e = try node(.filter(e, name, args), offset, children: [e] + args.positional + args.keyword.map(\.1))
            } else if skipName("is") {
                let negated = skipName("not")
                let nameOffset = current.offset
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                guard JinjaTests.names.contains(name) else { throw fail("No test named '\(name)'.", .assertion, at: nameOffset) }
                var args = Arguments()
                if isOp("(") {
                    args = try parseCallArguments()
                } else if startsTestArgument() {
                    args.positional = [try parsePostfix(try parsePrimary())]
                }
                e = try node(.test(e, name, args, negated: negated), offset, children: [e] + args.positional + args.keyword.map(\.1))
            } else if isOp("(") {
                let args = try parseCallArguments()
                e = try node(.call(e, args), offset, children: [e] + args.positional + args.keyword.map(\.1))
            } else {
                return e
            }
        }
    }

    private func startsTestArgument() -> Bool {
        switch current.kind {
        case .name(let n): return !["else", "or", "and", "is", "if", "in", "not"].contains(n)
        case .string, .integer, .float: return true
        case .op(let o): return o == "[" || o == "{"
        default: return false
        }
    }
}
