/// Builds the statement tree from tokens, following jinja2's grammar.
/// Expressions are parsed in JinjaExpressionParser.swift.
///
/// Unknown filters and tests are rejected here, as jinja2 rejects them when
/// compiling; template features outside the supported subset (`extends`,
/// `include`, `call`, recursive loops, ...) are errors that name them.
struct JinjaParser {
    let lexer: JinjaLexer
    var tokens: [JinjaLexer.Token] { lexer.tokens }
    var i = 0
    let limits: JinjaLimits
    var blockDepth = 0
    var loopDepth = 0
    var nesting = 0

    init(lexer: JinjaLexer, limits: JinjaLimits) {
        self.lexer = lexer
        self.limits = limits
    }

    static func parse(_ source: String, limits: JinjaLimits) throws -> [Stmt] {
        var parser = JinjaParser(lexer: try JinjaLexer.tokenize(source), limits: limits)
        let (body, _) = try parser.parseBody(until: [], owner: nil)
        return body
    }

    // MARK: token helpers

    var current: JinjaLexer.Token { tokens[min(i, tokens.count - 1)] }
    var next: JinjaLexer.Token { tokens[min(i + 1, tokens.count - 1)] }

    mutating func advance() { i += 1 }

    func fail(_ message: String, _ kind: JinjaError.Kind = .syntax, at offset: Int? = nil) -> JinjaError {
        let (line, column) = lexer.location(of: offset ?? current.offset)
        return JinjaError(kind, message, line: line, column: column)
    }

    func isName(_ name: String, _ t: JinjaLexer.Token? = nil) -> Bool {
        if case .name(let n) = (t ?? current).kind { return n == name }
        return false
    }

    func isOp(_ op: String, _ t: JinjaLexer.Token? = nil) -> Bool {
        if case .op(let o) = (t ?? current).kind { return o == op }
        return false
    }

    mutating func skipName(_ name: String) -> Bool {
        if isName(name) { advance(); return true }
        return false
    }

    mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { advance(); return true }
        return false
    }

    mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw fail("expected '\(op)', got \(describe(current))") }
    }

    mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw fail("expected a name, got \(describe(current))") }
        advance()
        return n
    }

    mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else { throw fail("expected 'end of statement block', got \(describe(current))") }
        advance()
    }

    func describe(_ t: JinjaLexer.Token) -> String {
        switch t.kind {
        case .data: return "template data"
        case .variableBegin: return "'begin of print statement'"
        case .variableEnd: return "'end of print statement'"
        case .blockBegin: return "'begin of statement block'"
        case .blockEnd: return "'end of statement block'"
        case .name(let n): return "'\(n)'"
        case .string: return "string"
        case .integer(let v): return "'\(v)'"
        case .float(let v): return "'\(v)'"
        case .op(let o): return "'\(o)'"
        case .eof: return "end of template"
        }
    }

    // MARK: statements

    private static let endTags: Set<String> = ["endif", "endfor", "endset", "endmacro", "endfilter", "endwith", "elif", "else", "endraw"]
    private static let unsupportedTags: Set<String> = [
        "extends", "block", "endblock", "include", "import", "from", "call", "endcall", "autoescape",
        "endautoescape", "trans", "endtrans", "pluralize", "do", "generation", "endgeneration",
    ]

    /// Statements up to a block tag named in `until` (which is consumed:
    /// the caller reads the rest of that tag). Returns the tag's name.
    mutating func parseBody(until endNames: [String], owner: String?) throws -> ([Stmt], String) {
        blockDepth += 1
        defer { blockDepth -= 1 }
        if blockDepth > limits.maxSyntaxDepth {
            throw fail("blocks nested deeper than \(limits.maxSyntaxDepth)", .limit)
        }
        var body: [Stmt] = []
        while true {
            let t = current
            switch t.kind {
            case .data(let s):
                body.append(Stmt(kind: .text(s), offset: t.offset))
                advance()
            case .variableBegin:
                advance()
                let e = try parseTuple()
                guard case .variableEnd = current.kind else { throw fail("expected 'end of print statement', got \(describe(current))") }
                advance()
                body.append(Stmt(kind: .print(e), offset: t.offset))
            case .blockBegin:
                advance()
                guard case .name(let tag) = current.kind else { throw fail("tag name expected") }
                if endNames.contains(tag) {
                    advance()
                    return (body, tag)
                }
                if Self.endTags.contains(tag) {
                    var message = "Encountered unknown tag '\(tag)'."
                    if let owner {
                        message += " Jinja was looking for the following tags: \(endNames.map { "'\($0)'" }.joined(separator: " or "))."
                        message += " The innermost block that needs to be closed is '\(owner)'."
                    }
                    throw fail(message)
                }
                body.append(try parseStatement(tag))
            case .eof:
                if let owner {
                    throw fail("Unexpected end of template. Jinja was looking for the following tags: "
                        + endNames.map { "'\($0)'" }.joined(separator: " or ")
                        + ". The innermost block that needs to be closed is '\(owner)'.")
                }
                return (body, "")
            default:
                throw fail("unexpected \(describe(t))")
            }
        }
    }

    mutating func parseStatement(_ tag: String) throws -> Stmt {
        let offset = current.offset
        advance()
        switch tag {
        case "if": return try parseIf(offset)
        case "for": return try parseFor(offset)
        case "set": return try parseSet(offset)
        case "macro": return try parseMacro(offset)
        case "filter":
            let filters = try parseFilterChain(first: true)
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endfilter"], owner: "filter")
            try expectBlockEnd()
            return Stmt(kind: .filterBlock(filters: filters, body: body), offset: offset)
        case "with":
            var assignments: [(String, Expr)] = []
            while case .name = current.kind {
                let name = try expectName()
                try expectOp("=")
                assignments.append((name, try parseExpression()))
                if !skipOp(",") { break }
            }
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endwith"], owner: "with")
            try expectBlockEnd()
            return Stmt(kind: .with(assignments, body: body), offset: offset)
        case "break", "continue":
            guard loopDepth > 0 else { throw fail("'\(tag)' outside of a loop", at: offset) }
            try expectBlockEnd()
            return Stmt(kind: tag == "break" ? .break : .continue, offset: offset)
        default:
            if Self.unsupportedTags.contains(tag) {
                throw fail("the '\(tag)' tag is not supported in chat templates", .unsupported, at: offset)
            }
            throw fail("Encountered unknown tag '\(tag)'.", at: offset)
        }
    }

    mutating func parseIf(_ offset: Int) throws -> Stmt {
        var branches: [(Expr, [Stmt])] = []
        var condition = try parseTuple(withCondexpr: true)
        while true {
            try expectBlockEnd()
            let (body, tag) = try parseBody(until: ["elif", "else", "endif"], owner: "if")
            branches.append((condition, body))
            if tag == "elif" {
                condition = try parseTuple(withCondexpr: true)
                continue
            }
            if tag == "else" {
                try expectBlockEnd()
                let (otherwise, _) = try parseBody(until: ["endif"], owner: "if")
                try expectBlockEnd()
                return Stmt(kind: .if(branches, otherwise: otherwise), offset: offset)
            }
            try expectBlockEnd()
            return Stmt(kind: .if(branches, otherwise: nil), offset: offset)
        }
    }

    mutating func parseFor(_ offset: Int) throws -> Stmt {
        var targets: [String] = []
        let parenthesised = skipOp("(")
        repeat {
            targets.append(try expectName())
        } while skipOp(",") && !isName("in")
        if parenthesised { try expectOp(")") }
        guard skipName("in") else { throw fail("expected 'in', got \(describe(current))") }
        let iterable = try parseTuple(withCondexpr: false)
        var condition: Expr? = nil
        if skipName("if") { condition = try parseExpression() }
        if isName("recursive") { throw fail("recursive for loops are not supported", .unsupported) }
        try expectBlockEnd()
        loopDepth += 1
        let (body, tag) = try parseBody(until: ["endfor", "else"], owner: "for")
        loopDepth -= 1
        var otherwise: [Stmt]? = nil
        if tag == "else" {
            try expectBlockEnd()
            (otherwise, _) = try parseBody(until: ["endfor"], owner: "for")
        }
        try expectBlockEnd()
        return Stmt(kind: .for(targets: targets, iterable: iterable, condition: condition, body: body, otherwise: otherwise), offset: offset)
    }

    mutating func parseSet(_ offset: Int) throws -> Stmt {
        let first = try expectName()
        if skipOp(".") {
            let attribute = try expectName()
            try expectOp("=")
            let value = try parseTuple()
            try expectBlockEnd()
            return Stmt(kind: .set(.attribute(first, attribute), value), offset: offset)
        }
        var names = [first]
        while skipOp(",") { names.append(try expectName()) }
        if names.count == 1, !isOp("=") {
            let filters = isOp("|") ? try parseFilterChain(first: false) : []
            try expectBlockEnd()
            let savedLoopDepth = loopDepth
            let (body, _) = try parseBody(until: ["endset"], owner: "set")
            loopDepth = savedLoopDepth
            try expectBlockEnd()
            return Stmt(kind: .setBlock(first, body: body, filters: filters), offset: offset)
        }
        try expectOp("=")
        let value = try parseTuple()
        try expectBlockEnd()
        return Stmt(kind: .set(names.count == 1 ? .name(first) : .names(names), value), offset: offset)
    }

    mutating func parseMacro(_ offset: Int) throws -> Stmt {
        let name = try expectName()
        try expectOp("(")
        var parameters: [(String, Expr?)] = []
        while !isOp(")") {
            let p = try expectName()
            var defaultValue: Expr? = nil
            if skipOp("=") { defaultValue = try parseExpression() }
            parameters.append((p, defaultValue))
            if !skipOp(",") { break }
        }
        try expectOp(")")
        try expectBlockEnd()
        let savedLoopDepth = loopDepth
        loopDepth = 0
        let (body, _) = try parseBody(until: ["endmacro"], owner: "macro")
        loopDepth = savedLoopDepth
        try expectBlockEnd()
        return Stmt(kind: .macro(name: name, parameters: parameters, body: body), offset: offset)
    }

    /// `name(args) | name2 ...` after `{% filter` or `{% set x |`.
    mutating func parseFilterChain(first: Bool) throws -> [(String, Arguments)] {
        var filters: [(String, Arguments)] = []
        var needPipe = !first
        while true {
            if needPipe { guard skipOp("|") else { break } }
            needPipe = true
            let offset = current.offset
            let name = try expectName()
            guard JinjaFilters.names.contains(name) else { throw fail("No filter named '\(name)'.", .assertion, at: offset) }
            filters.append((name, isOp("(") ? try parseCallArguments() : Arguments()))
        }
        return filters
    }
}
