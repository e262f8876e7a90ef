/// Python methods templates call on values (`'x'.strip()`, `d.items()`),
/// and the globals transformers defines (`range`, `namespace`, `dict`,
/// `raise_exception`, `strftime_now`). Methods that would mutate a value are
/// forbidden, as in jinja2's `ImmutableSandboxedEnvironment`.
enum JinjaMethods {
    private static let unsafe: [String: Set<String>] = [
        "list": ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"],
        "dict": ["pop", "popitem", "setdefault", "update", "clear"],
    ]

    static func bind(_ object: JinjaValue, _ name: String) -> JinjaValue? {
        if unsafe[object.typeName]?.contains(name) == true {
            return .undefined(JinjaUndefined(message: "access to attribute '\(name)' of '\(object.typeName)' object is unsafe.", kind: .security))
        }
        let method: ((CallArguments) throws -> JinjaValue)?
        switch object {
        case .string(let s): method = stringMethod(s, name)
        case .dict(let d): method = dictMethod(d, name)
        case .list(let l), .tuple(let l): method = listMethod(l, name, isTuple: { if case .tuple = object { return true }; return false }())
        default: method = nil
        }
        guard let method else { return nil }
        return .callable(JinjaCallable(name) { args, kwargs in
            try method(CallArguments(name: name, positional: args, keyword: kwargs))
        })
    }

    private static func stringMethod(_ s: String, _ name: String) -> ((CallArguments) throws -> JinjaValue)? {
        switch name {
        case "strip", "lstrip", "rstrip":
            return { a in .string(PythonText.strip(s, try a.string(0, "chars"), leading: name != "rstrip", trailing: name != "lstrip")) }
        case "split":
            return { a in .makeList(try PythonText.split(s, separator: try a.string(0, "sep"), maxSplit: try a.int(1, "maxsplit") ?? -1).map { .string($0) }) }
        case "rsplit":
            return { a in
                let maxSplit = try a.int(1, "maxsplit") ?? -1
                guard let sep = try a.string(0, "sep") else {
                    return .makeList(try PythonText.split(s, separator: nil).map { .string($0) })
                }
                return .makeList(try PythonText.rsplit(s, separator: sep, maxSplit: maxSplit).map { .string($0) })
            }
        case "splitlines": return { _ in .makeList(PythonText.splitLines(s).map { .string($0) }) }
        case "startswith", "endswith":
            return { a in
                guard let p = a.get(0, "prefix") else { throw JinjaError(.type, "\(name)() takes at least 1 argument (0 given)") }
                let candidates = (try? JinjaRenderer.sequence(p)) ?? [p]
                for c in candidates {
                    guard case .string(let x) = c else { throw JinjaError(.type, "\(name) first arg must be str or a tuple of str, not \(c.typeName)") }
                    let hit = name == "startswith" ? s.utf8.starts(with: x.utf8) : s.utf8.reversed().starts(with: x.utf8.reversed())
                    if hit { return .bool(true) }
                }
                return .bool(false)
            }
        case "upper": return { _ in .string(PythonText.upper(s)) }
        case "lower", "casefold": return { _ in .string(PythonText.lower(s)) }
        case "title": return { _ in .string(PythonText.title(s)) }
        case "capitalize": return { _ in .string(PythonText.capitalize(s)) }
        case "replace":
            return { a in
                guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else { throw JinjaError(.type, "replace() takes at least 2 arguments") }
                return .string(PythonText.replace(s, old, new, count: try a.int(2, "count") ?? -1))
            }
        case "find", "index", "rfind", "rindex", "count":
            return { a in
                guard let sub = try a.string(0, "sub") else { throw JinjaError(.type, "\(name)() takes at least 1 argument") }
                let hay = Array(s.unicodeScalars.map(\.value)), needle = Array(sub.unicodeScalars.map(\.value))
                var positions: [Int] = []
                var i = 0
                while i + needle.count <= hay.count {
                    if hay[i..<(i + needle.count)].elementsEqual(needle) {
                        positions.append(i)
                        i += max(needle.count, 1)
                        if name == "find" || name == "index" { break }
                    } else {
                        i += 1
                    }
                }
                if name == "count" { return .int(positions.count) }
                guard let p = (name.hasPrefix("r") ? positions.last : positions.first) else {
                    if name.hasSuffix("index") { throw JinjaError(.value, "substring not found") }
                    return .int(-1)
                }
                return .int(p)
            }
        case "join":
            return { a in
                guard let items = a.get(0, "iterable") else { throw JinjaError(.type, "join() takes exactly one argument") }
                var parts: [String] = []
                for (i, item) in (try JinjaRenderer.iterable(items)).enumerated() {
                    guard case .string(let t) = item else { throw JinjaError(.type, "sequence item \(i): expected str instance, \(item.typeName) found") }
                    parts.append(t)
                }
                return .string(parts.joined(separator: s))
            }
        case "zfill":
            return { a in
                let width = try a.int(0, "width") ?? 0
                let n = s.unicodeScalars.count
                guard width > n else { return .string(s) }
                let pad = String(repeating: "0", count: width - n)
                if s.hasPrefix("-") || s.hasPrefix("+") { return .string(String(s.prefix(1)) + pad + s.dropFirst()) }
                return .string(pad + s)
            }
        case "isalpha": return { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic }) }
        case "isdigit", "isdecimal", "isnumeric":
            return { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil }) }
        case "isalnum":
            return { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil }) }
        case "isspace": return { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(PythonText.isSpace)) }
        case "isupper", "islower":
            return { _ in .bool(JinjaTests.caseTest(s, lower: name == "islower")) }
        case "format", "format_map", "encode":
            return { _ in throw JinjaError(.unsupported, "str.\(name)() is not supported") }
        default: return nil
        }
    }

    private static func dictMethod(_ d: JinjaDict, _ name: String) -> ((CallArguments) throws -> JinjaValue)? {
        switch name {
        case "get":
            return { a in
                guard let key = a.get(0, "key") else { throw JinjaError(.type, "get expected at least 1 argument, got 0") }
                return d.get(key) ?? a.get(1, "default") ?? .none
            }
        case "items": return { _ in .makeList((0..<d.count).map { .makeTuple([d.keys[$0], d.values[$0]]) }) }
        case "keys": return { _ in .makeList(d.keys) }
        case "values": return { _ in .makeList(d.values) }
        case "copy": return { _ in .dict(d) }
        default: return nil
        }
    }

    private static func listMethod(_ l: JinjaList, _ name: String, isTuple: Bool) -> ((CallArguments) throws -> JinjaValue)? {
        switch name {
        case "index":
            return { a in
                guard let x = a.get(0, "value"), let i = l.items.firstIndex(where: { JinjaOperators.equals($0, x) }) else {
                    throw JinjaError(.value, "value is not in \(isTuple ? "tuple" : "list")")
                }
                return .int(i)
            }
        case "count":
            return { a in
                guard let x = a.get(0, "value") else { throw JinjaError(.type, "count() takes exactly one argument (0 given)") }
                return .int(l.items.filter { JinjaOperators.equals($0, x) }.count)
            }
        case "copy" where !isTuple: return { _ in .list(l) }
        default: return nil
        }
    }
}

extension JinjaRenderer {
    /// Iteration without a renderer (for methods such as str.join).
    static func iterable(_ v: JinjaValue) throws -> [JinjaValue] {
        switch v {
        case .list(let l), .tuple(let l): return l.items
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .dict(let d): return d.keys
        case .undefined: return []
        default: throw JinjaError(.type, "'\(v.typeName)' object is not iterable")
        }
    }
}

/// The global functions of transformers' chat-template environment.
enum JinjaGlobals {
    static func make(_ r: JinjaRenderer) -> [String: JinjaValue] {
        var g: [String: JinjaValue] = [:]
        let maxRange = r.limits.maxRangeLength
        g["range"] = .callable(JinjaCallable("range") { args, _ in
            let ints = try args.map { v -> Int in
                guard let i = v.asInt else { throw JinjaError(.type, "'\(v.typeName)' object cannot be interpreted as an integer") }
                return i
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw JinjaError(.type, "range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw JinjaError(.value, "range() arg 3 must not be zero") }
            let (span, o1) = stop.subtractingReportingOverflow(start)
            let (rounded, o2) = span.addingReportingOverflow(step > 0 ? step - 1 : step + 1)
            let count = o1 || o2 ? Int.max : max(0, rounded / step)
            if count > maxRange {
                throw JinjaError(.limit, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (\(maxRange)).")
            }
            return .makeList((0..<count).map { .int(start + $0 * step) })
        })
        g["namespace"] = .callable(JinjaCallable("namespace") { args, kwargs in
            let ns = JinjaNamespace()
            for a in args {
                guard case .dict(let d) = a else { throw JinjaError(.type, "namespace() positional argument must be a dict") }
                for i in 0..<d.count {
                    guard case .string(let k) = d.keys[i] else { continue }
                    try checkNamespaceName(k)
                    ns.set(k, d.values[i])
                }
            }
            for (k, v) in kwargs {
                try checkNamespaceName(k)
                ns.set(k, v)
            }
            return .namespace(ns)
        })
        g["dict"] = .callable(JinjaCallable("dict") { args, kwargs in
            let d = JinjaDict()
            for a in args {
                guard case .dict(let src) = a else { throw JinjaError(.type, "dict() positional argument must be a dict") }
                for i in 0..<src.count { try d.set(src.keys[i], src.values[i]) }
            }
            for (k, v) in kwargs { d.setString(k, v) }
            return .dict(d)
        })
        g["raise_exception"] = .callable(JinjaCallable("raise_exception") { args, kwargs in
            let message = try (args.first ?? kwargs.first { $0.0 == "message" }?.1 ?? .string("")).pyStr()
            throw JinjaError(.raised, message)
        })
        let now = r.now
        g["strftime_now"] = .callable(JinjaCallable("strftime_now") { args, _ in
            guard case .string(let pattern)? = args.first else { throw JinjaError(.type, "strftime_now() needs a format string") }
            return .string(try now().format(pattern))
        })
        return g
    }

    static func checkNamespaceName(_ name: String) throws {
        if name.hasPrefix("_") {
            throw JinjaError(.security, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(name)'. Please rename the attribute.")
        }
    }
}
