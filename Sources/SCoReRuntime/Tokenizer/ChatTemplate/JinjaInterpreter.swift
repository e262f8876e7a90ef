#if canImport(Glibc)
import Glibc
#endif

/// Variables visible at one point of a template. jinja2 scoping: a `for`
/// iteration, a macro call and a `with` block get a fresh scope (so `set`
/// inside a loop body does not leak out of it, nor into the next
/// iteration); `if` does not.
final class JinjaScope {
    var vars: [String: JinjaValue] = [:]
    let parent: JinjaScope?

    init(parent: JinjaScope?) { self.parent = parent }

    func lookup(_ name: String) -> JinjaValue? {
        var scope: JinjaScope? = self
        while let s = scope {
            if let v = s.vars[name] { return v }
            scope = s.parent
        }
        return nil
    }
}

/// Local time for `strftime_now`, injectable so renderings are reproducible.
public struct JinjaDateTime: Sendable, Equatable {
    public var year, month, day, hour, minute, second: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second) = (year, month, day, hour, minute, second)
    }

    /// The current local time (what Python's `datetime.now()` returns).
    public static func now() -> JinjaDateTime {
        var t = time(nil)
        var parts = tm()
        localtime_r(&t, &parts)
        return JinjaDateTime(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                             hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec))
    }

    /// C `strftime` in the C locale, as CPython's `datetime.strftime` uses it.
    func format(_ pattern: String) throws -> String {
        var parts = tm()
        parts.tm_year = Int32(clamping: year - 1900)
        parts.tm_mon = Int32(clamping: month - 1)
        parts.tm_mday = Int32(clamping: day)
        parts.tm_hour = Int32(clamping: hour)
        parts.tm_min = Int32(clamping: minute)
        parts.tm_sec = Int32(clamping: second)
        var copy = parts
        var seconds = timegm(&copy)  // fills weekday and day of year
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 1024)
        let n = pattern.withCString { strftime(&buffer, buffer.count, $0, &parts) }
        if n == 0 && !pattern.isEmpty { throw JinjaError(.value, "strftime format produced no output or too much: \(pattern)") }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Executes a parsed template. One renderer per render call: it holds the
/// output, the step budget and the call depth.
final class JinjaRenderer {
    enum Flow { case normal, breakLoop, continueLoop }

    let limits: JinjaLimits
    let lexer: JinjaLexer
    let now: @Sendable () -> JinjaDateTime
    let root: JinjaScope
    var globals: [String: JinjaValue] = [:]
    var steps = 0
    var callDepth = 0

    init(lexer: JinjaLexer, limits: JinjaLimits, variables: [String: JinjaValue], now: @escaping @Sendable () -> JinjaDateTime) {
        self.lexer = lexer
        self.limits = limits
        self.now = now
        root = JinjaScope(parent: nil)
        root.vars = variables
        globals = JinjaGlobals.make(self)
    }

    func render(_ body: [Stmt]) throws -> String {
        var out = ""
        _ = try exec(body, root, into: &out)
        return out
    }

    func step() throws {
        steps += 1
        if steps > limits.maxSteps {
            throw JinjaError(.limit, "template exceeded the limit of \(limits.maxSteps) evaluation steps (an endless or huge loop?)")
        }
    }

    func located(_ error: JinjaError, _ offset: Int) -> JinjaError {
        guard error.line == nil else { return error }
        var e = error
        (e.line, e.column) = lexer.location(of: offset)
        return e
    }

    func emit(_ text: String, into out: inout String) throws {
        out += text
        if out.utf8.count > limits.maxOutputBytes {
            throw JinjaError(.limit, "rendered output exceeds the limit of \(limits.maxOutputBytes) bytes")
        }
    }

    // MARK: statements

    func exec(_ body: [Stmt], _ scope: JinjaScope, into out: inout String) throws -> Flow {
        for stmt in body {
            try step()
            do {
                let flow = try exec(stmt, scope, into: &out)
                if flow != .normal { return flow }
            } catch let e as JinjaError {
                throw located(e, stmt.offset)
            }
        }
        return .normal
    }

    private func exec(_ stmt: Stmt, _ scope: JinjaScope, into out: inout String) throws -> Flow {
        switch stmt.kind {
        case .text(let s):
            try emit(s, into: &out)
        case .print(let e):
            try emit(try eval(e, scope).pyStr(), into: &out)
        case .if(let branches, let otherwise):
            for (condition, body) in branches where try eval(condition, scope).truthy {
                return try exec(body, scope, into: &out)
            }
            if let otherwise { return try exec(otherwise, scope, into: &out) }
        case .for(let targets, let iterable, let condition, let body, let otherwise):
            try execFor(targets, iterable, condition, body, otherwise, scope, into: &out)
        case .set(let target, let valueExpr):
            try assign(target, try checkedDepth(try eval(valueExpr, scope)), scope)
        case .setBlock(let name, let body, let filters):
            var text = ""
            _ = try exec(body, scope, into: &text)
            var value = JinjaValue.string(text)
            for (filter, args) in filters { value = try applyFilter(filter, value, args, scope) }
            scope.vars[name] = value
        case .macro(let name, let parameters, let body):
            scope.vars[name] = .callable(makeMacro(name, parameters, body, scope))
        case .filterBlock(let filters, let body):
            var text = ""
            _ = try exec(body, scope, into: &text)
            var value = JinjaValue.string(text)
            for (filter, args) in filters { value = try applyFilter(filter, value, args, scope) }
            try emit(try value.pyStr(), into: &out)
        case .with(let assignments, let body):
            let inner = JinjaScope(parent: scope)
            for (name, e) in assignments { inner.vars[name] = try eval(e, scope) }
            return try exec(body, inner, into: &out)
        case .break:
            return .breakLoop
        case .continue:
            return .continueLoop
        }
        return .normal
    }

    func checkedDepth(_ v: JinjaValue) throws -> JinjaValue {
        if v.depth > limits.maxValueDepth {
            throw JinjaError(.limit, "value nested deeper than \(limits.maxValueDepth) levels")
        }
        return v
    }

    private func assign(_ target: AssignTarget, _ value: JinjaValue, _ scope: JinjaScope) throws {
        switch target {
        case .name(let n):
            scope.vars[n] = value
        case .names(let names):
            let items = try unpack(value, count: names.count)
            for (n, v) in zip(names, items) { scope.vars[n] = v }
        case .attribute(let object, let attribute):
            guard case .namespace(let ns)? = scope.lookup(object) ?? globals[object] else {
                throw JinjaError(.type, "cannot assign attribute on non-namespace object")
            }
            try JinjaGlobals.checkNamespaceName(attribute)
            ns.set(attribute, value)
        }
    }

    func unpack(_ value: JinjaValue, count: Int) throws -> [JinjaValue] {
        let items = try iterate(value)
        if items.count < count { throw JinjaError(.value, "not enough values to unpack (expected \(count), got \(items.count))") }
        if items.count > count { throw JinjaError(.value, "too many values to unpack (expected \(count))") }
        return items
    }

    private func execFor(_ targets: [String], _ iterableExpr: Expr, _ condition: Expr?, _ body: [Stmt], _ otherwise: [Stmt]?,
                         _ scope: JinjaScope, into out: inout String) throws {
        var items = try iterate(try eval(iterableExpr, scope))
        func bind(_ item: JinjaValue, _ s: JinjaScope) throws {
            if targets.count == 1 {
                s.vars[targets[0]] = item
            } else {
                for (n, v) in zip(targets, try unpack(item, count: targets.count)) { s.vars[n] = v }
            }
        }
        if let condition {
            var kept: [JinjaValue] = []
            for item in items {
                try step()
                let probe = JinjaScope(parent: scope)
                try bind(item, probe)
                if try eval(condition, probe).truthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            if let otherwise { _ = try exec(otherwise, scope, into: &out) }
            return
        }
        var depth0 = 0
        if case .loop(let outer)? = scope.lookup("loop") { depth0 = outer.depth0 + 1 }
        let loop = JinjaLoop(items: items, depth0: depth0)
        for (i, item) in items.enumerated() {
            try step()
            loop.index0 = i
            let iteration = JinjaScope(parent: scope)
            try bind(item, iteration)
            iteration.vars["loop"] = .loop(loop)
            if try exec(body, iteration, into: &out) == .breakLoop { break }
        }
    }

    private func makeMacro(_ name: String, _ parameters: [(String, Expr?)], _ body: [Stmt], _ defining: JinjaScope) -> JinjaCallable {
        JinjaCallable(name, isMacro: true) { [unowned self] args, kwargs in
            guard args.count <= parameters.count else {
                throw JinjaError(.type, "macro '\(name)' takes not more than \(parameters.count) argument(s)")
            }
            self.callDepth += 1
            defer { self.callDepth -= 1 }
            if self.callDepth > self.limits.maxCallDepth {
                throw JinjaError(.limit, "macro calls nested deeper than \(self.limits.maxCallDepth) (endless recursion?)")
            }
            let scope = JinjaScope(parent: defining)
            for (i, (p, defaultExpr)) in parameters.enumerated() {
                if i < args.count {
                    scope.vars[p] = args[i]
                } else if let kw = kwargs.last(where: { $0.0 == p }) {
                    scope.vars[p] = kw.1
                } else if let defaultExpr {
                    scope.vars[p] = try self.eval(defaultExpr, scope)
                } else {
                    scope.vars[p] = .undefined(JinjaUndefined(message: "parameter '\(p)' was not provided"))
                }
            }
            for (k, _) in kwargs where !parameters.contains(where: { $0.0 == k }) {
                throw JinjaError(.type, "macro '\(name)' takes no keyword argument '\(k)'")
            }
            var text = ""
            _ = try self.exec(body, scope, into: &text)
            return .string(text)
        }
    }

    /// Python iteration: lists and tuples by element, strings by code point,
    /// dicts by key; undefined iterates as empty (jinja2's `Undefined`).
    func iterate(_ v: JinjaValue) throws -> [JinjaValue] {
        switch v {
        case .list(let l), .tuple(let l): return l.items
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .dict(let d): return d.keys
        case .undefined: return []
        default: throw JinjaError(.type, "'\(v.typeName)' object is not iterable")
        }
    }
}
