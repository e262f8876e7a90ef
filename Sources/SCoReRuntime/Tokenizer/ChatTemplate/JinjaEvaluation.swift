/// Expression evaluation: names, attribute and item access (jinja2's
/// sandboxed getattr/getitem rules), calls, filters, tests and operators.
extension JinjaRenderer {
    func eval(_ e: Expr, _ scope: JinjaScope) throws -> JinjaValue {
        try step()
        do {
            return try evalKind(e, scope)
        } catch let error as JinjaError {
            throw located(error, e.offset)
        }
    }

    private func evalKind(_ e: Expr, _ scope: JinjaScope) throws -> JinjaValue {
        switch e.kind {
        case .literal(let v): return v
        case .name(let n): return scope.lookup(n) ?? globals[n] ?? .undefinedName(n)
        case .list(let items): return try checkedDepth(.makeList(try items.map { try eval($0, scope) }))
        case .tuple(let items): return try checkedDepth(.makeTuple(try items.map { try eval($0, scope) }))
        case .dict(let pairs):
            let d = JinjaDict()
            for (k, v) in pairs { try d.set(try eval(k, scope), try eval(v, scope)) }
            return try checkedDepth(.dict(d))
        case .attribute(let target, let name):
            return try getAttribute(try eval(target, scope), name)
        case .index(let target, let key):
            return try getItem(try eval(target, scope), try eval(key, scope))
        case .slice(let target, let start, let stop, let stepExpr):
            return try JinjaOperators.slice(try eval(target, scope), try start.map { try eval($0, scope) },
                                            try stop.map { try eval($0, scope) }, try stepExpr.map { try eval($0, scope) })
        case .call(let callee, let args):
            let f = try eval(callee, scope)
            let (positional, keyword) = try evalArguments(args, scope)
            return try call(f, positional, keyword)
        case .filter(let target, let name, let args):
            return try applyFilter(name, try eval(target, scope), args, scope)
        case .test(let target, let name, let args, let negated):
            let (positional, keyword) = try evalArguments(args, scope)
            let result = try JinjaTests.apply(name, try eval(target, scope), positional, keyword, self)
            return .bool(result != negated)
        case .not(let inner): return .bool(!(try eval(inner, scope).truthy))
        case .negate(let inner): return try JinjaOperators.negate(try eval(inner, scope))
        case .plus(let inner): return try JinjaOperators.plus(try eval(inner, scope))
        case .binary(let op, let l, let r):
            return try JinjaOperators.binary(op, try eval(l, scope), try eval(r, scope), limits)
        case .compare(let first, let rest):
            var left = try eval(first, scope)
            for (op, rightExpr) in rest {
                let right = try eval(rightExpr, scope)
                if !(try JinjaOperators.compare(op, left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .and(let l, let r):
            let left = try eval(l, scope)
            return left.truthy ? try eval(r, scope) : left
        case .or(let l, let r):
            let left = try eval(l, scope)
            return left.truthy ? left : try eval(r, scope)
        case .conditional(let condition, let then, let otherwise):
            if try eval(condition, scope).truthy { return try eval(then, scope) }
            if let otherwise { return try eval(otherwise, scope) }
            return .undefined(JinjaUndefined(message: "the inline if-expression on line \(lexer.location(of: e.offset).line) evaluated to false and no else section was defined."))
        }
    }

    func evalArguments(_ args: Arguments, _ scope: JinjaScope) throws -> ([JinjaValue], [(String, JinjaValue)]) {
        let positional = try args.positional.map { try eval($0, scope) }
        let keyword = try args.keyword.map { ($0.0, try eval($0.1, scope)) }
        return (positional, keyword)
    }

    func applyFilter(_ name: String, _ value: JinjaValue, _ args: Arguments, _ scope: JinjaScope) throws -> JinjaValue {
        let (positional, keyword) = try evalArguments(args, scope)
        return try JinjaFilters.apply(name, value, positional, keyword, self)
    }

    func call(_ f: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        switch f {
        case .callable(let c): return try c.call(args, kwargs)
        case .undefined(let u): throw u.error
        case .loop(let l): return try JinjaLoopAccess.call(l, args)
        default: throw JinjaError(.type, "'\(f.typeName)' object is not callable")
        }
    }

    /// `x.name`: a Python attribute (methods such as `items` or `strip`)
    /// first, then a dict key; otherwise an undefined value that fails when used.
    func getAttribute(_ object: JinjaValue, _ name: String) throws -> JinjaValue {
        switch object {
        case .undefined(let u):
            throw u.error
        case .dict(let d):
            if let m = JinjaMethods.bind(object, name) { return m }
            if let v = d.get(name) { return v }
        case .namespace(let ns):
            if let v = ns.values[name] { return v }
        case .loop(let l):
            if let v = JinjaLoopAccess.attribute(l, name, self) { return v }
        default:
            if let m = JinjaMethods.bind(object, name) { return m }
        }
        return .undefined(JinjaUndefined(message: "'\(object.objectTypeRepr)' has no attribute '\(name)'"))
    }

    /// `x[key]`: the item, else (for string keys) a Python attribute,
    /// else undefined — jinja2 turns a missing item into an undefined value.
    func getItem(_ object: JinjaValue, _ key: JinjaValue) throws -> JinjaValue {
        switch object {
        case .undefined(let u):
            throw u.error
        case .dict(let d):
            if let v = d.get(key) { return v }
        case .list(let l), .tuple(let l):
            if let i = key.asInt {
                let index = i < 0 ? i + l.items.count : i
                if index >= 0 && index < l.items.count { return l.items[index] }
            }
        case .string(let s):
            if let i = key.asInt {
                let scalars = s.unicodeScalars
                let n = scalars.count
                let index = i < 0 ? i + n : i
                if index >= 0 && index < n { return .string(String(scalars[scalars.index(scalars.startIndex, offsetBy: index)])) }
            }
        case .namespace, .loop:
            if case .string(let name) = key { return try getAttribute(object, name) }
        default:
            break
        }
        if case .string(let name) = key {
            if let m = JinjaMethods.bind(object, name) { return m }
            return .undefined(JinjaUndefined(message: "'\(object.objectTypeRepr)' has no attribute '\(name)'"))
        }
        return .undefined(JinjaUndefined(message: "\(object.objectTypeRepr) has no element \(try key.pyRepr())"))
    }
}

/// The `loop` object of a for block.
enum JinjaLoopAccess {
    static func attribute(_ l: JinjaLoop, _ name: String, _ r: JinjaRenderer) -> JinjaValue? {
        let n = l.items.count
        switch name {
        case "index": return .int(l.index0 + 1)
        case "index0": return .int(l.index0)
        case "revindex": return .int(n - l.index0)
        case "revindex0": return .int(n - l.index0 - 1)
        case "first": return .bool(l.index0 == 0)
        case "last": return .bool(l.index0 == n - 1)
        case "length": return .int(n)
        case "depth": return .int(l.depth0 + 1)
        case "depth0": return .int(l.depth0)
        case "previtem":
            return l.index0 > 0 ? l.items[l.index0 - 1] : .undefined(JinjaUndefined(message: "there is no previous item"))
        case "nextitem":
            return l.index0 + 1 < n ? l.items[l.index0 + 1] : .undefined(JinjaUndefined(message: "there is no next item"))
        case "cycle":
            return .callable(JinjaCallable("cycle") { args, _ in
                guard !args.isEmpty else { throw JinjaError(.type, "no items for cycling given") }
                return args[l.index0 % args.count]
            })
        case "changed":
            return .callable(JinjaCallable("changed") { args, _ in
                if let last = l.lastChanged, last.count == args.count,
                   zip(last, args).allSatisfy({ JinjaOperators.equals($0, $1) }) {
                    return .bool(false)
                }
                l.lastChanged = args
                return .bool(true)
            })
        default: return nil
        }
    }

    static func call(_ l: JinjaLoop, _ args: [JinjaValue]) throws -> JinjaValue {
        throw JinjaError(.unsupported, "calling loop() (recursive loops) is not supported")
    }
}
