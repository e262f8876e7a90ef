#if canImport(Glibc)
import Glibc
#endif

/// Arguments of a filter, test, method or global: positional and keyword,
/// looked up the way a Python signature binds them.
struct CallArguments {
    let name: String
    let positional: [JinjaValue]
    let keyword: [(String, JinjaValue)]

    func get(_ index: Int, _ keyword: String) -> JinjaValue? {
        if index >= 0 && index < positional.count { return positional[index] }
        return self.keyword.last { $0.0 == keyword }?.1
    }

    func string(_ index: Int, _ keyword: String) throws -> String? {
        guard let v = get(index, keyword), !v.isNone else { return nil }
        guard case .string(let s) = v else { throw JinjaError(.type, "\(name)(): argument '\(keyword)' must be str, not \(v.typeName)") }
        return s
    }

    func int(_ index: Int, _ keyword: String) throws -> Int? {
        guard let v = get(index, keyword), !v.isNone else { return nil }
        guard let i = v.asInt else { throw JinjaError(.type, "\(name)(): argument '\(keyword)' must be int, not \(v.typeName)") }
        return i
    }

    func bool(_ index: Int, _ keyword: String) -> Bool? { get(index, keyword).map(\.truthy) }
}

/// jinja2's built-in filters, with transformers' `tojson` replacing Jinja's.
enum JinjaFilters {
    static let supported: Set<String> = [
        "abs", "attribute", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
        "forceescape", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
        "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum", "title",
        "tojson", "trim", "unique", "upper", "wordcount",
    ]
    /// Real jinja2 filters outside the subset: parsing them is an
    /// "unsupported" error, not "no filter named".
    static let unsupported: Set<String> = [
        "batch", "filesizeformat", "format", "groupby", "pprint", "random", "slice", "striptags", "truncate",
        "urlencode", "urlize", "wordwrap", "xmlattr",
    ]
    static let names = supported.union(unsupported)

    static func apply(_ name: String, _ value: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)],
                      _ r: JinjaRenderer) throws -> JinjaValue {
        let a = CallArguments(name: name, positional: args, keyword: kwargs)
        switch name {
        case "abs":
            if let e = JinjaOperators.undefinedError(value) { throw e }
            if let i = value.asInt { return i == Int.min ? .double(9.223372036854775808e18) : .int(abs(i)) }
            if case .double(let d) = value { return .double(abs(d)) }
            throw JinjaError(.type, "bad operand type for abs(): '\(value.typeName)'")
        case "attribute":
            guard let n = try a.string(0, "name") else { throw JinjaError(.type, "attribute() needs a name") }
            return try r.getAttribute(value, n)
        case "capitalize": return .string(PythonText.capitalize(try value.pyStr()))
        case "center":
            let width = try a.int(0, "width") ?? 80
            let s = try value.pyStr()
            let n = s.unicodeScalars.count
            guard width > n else { return .string(s) }
            let total = width - n
            let left = total / 2 + (total & width & 1)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: total - left))
        case "count", "length":
            return .int(try length(value))
        case "d", "default":
            let fallback = a.get(0, "default_value") ?? .string("")
            if value.isUndefined || (a.bool(1, "boolean") == true && !value.truthy) { return fallback }
            return value
        case "dictsort":
            guard case .dict(let d) = value else { throw JinjaError(.type, "dictsort(): can only sort a mapping") }
            let byValue = try a.string(1, "by") == "value"
            let caseSensitive = a.bool(0, "case_sensitive") ?? false
            var pairs = (0..<d.count).map { JinjaValue.makeTuple([d.keys[$0], d.values[$0]]) }
            try sortValues(&pairs, reverse: a.bool(2, "reverse") ?? false) { v in
                guard case .tuple(let t) = v else { return v }
                let key = t.items[byValue ? 1 : 0]
                return caseSensitive ? key : foldCase(key)
            }
            return .makeList(pairs)
        case "e", "escape", "forceescape":
            if case .undefined = value, name != "forceescape" { return .string("") }
            return .string(htmlEscape(try value.pyStr()))
        case "first":
            return try r.iterate(value).first ?? .undefined(JinjaUndefined(message: "No first item, sequence was empty."))
        case "last":
            if case .undefined(let u) = value { throw u.error }
            return try r.iterate(value).last ?? .undefined(JinjaUndefined(message: "No last item, sequence was empty."))
        case "float":
            let fallback = a.get(0, "default") ?? .double(0)
            switch value {
            case .double: return value
            case .int, .bool: return .double(value.asNumber!)
            case .string(let s): return Double(PythonText.strip(s).replacing("_", with: "")).map { .double($0) } ?? fallback
            default: return fallback
            }
        case "indent": return .string(try indent(try value.pyStr(), a))
        case "int": return try toInt(value, a)
        case "items":
            switch value {
            case .dict(let d): return .makeList((0..<d.count).map { .makeTuple([d.keys[$0], d.values[$0]]) })
            case .undefined: return .makeList([])
            default: throw JinjaError(.type, "Can only get item pairs from a mapping.")
            }
        case "join":
            var items = try r.iterate(value)
            if let attribute = try a.string(1, "attribute") { items = try items.map { try attributePath($0, attribute, r) } }
            let separator = try a.string(0, "d") ?? ""
            return .string(try items.map { try $0.pyStr() }.joined(separator: separator))
        case "list": return .makeList(try r.iterate(value))
        case "lower": return .string(PythonText.lower(try value.pyStr()))
        case "upper": return .string(PythonText.upper(try value.pyStr()))
        case "map": return .makeList(try map(value, a, r))
        case "max", "min":
            var items = try r.iterate(value)
            guard !items.isEmpty else { return .undefined(JinjaUndefined(message: "No aggregated item, sequence was empty.")) }
            let attribute = try a.string(1, "attribute")
            let caseSensitive = a.bool(0, "case_sensitive") ?? false
            try sortValues(&items, reverse: name == "max") { v in
                let key = try attribute.map { try attributePath(v, $0, r) } ?? v
                return caseSensitive ? key : foldCase(key)
            }
            return items[0]
        case "select", "reject":
            return .makeList(try select(try r.iterate(value), a, attribute: false, keep: name == "select", r))
        case "selectattr", "rejectattr":
            return .makeList(try select(try r.iterate(value), a, attribute: true, keep: name == "selectattr", r))
        case "replace":
            guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else {
                throw JinjaError(.type, "replace() needs old and new strings")
            }
            return .string(PythonText.replace(try value.pyStr(), old, new, count: try a.int(2, "count") ?? -1))
        case "reverse":
            if case .string(let s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .makeList(try r.iterate(value).reversed())
        case "round": return try round(value, a)
        case "safe", "string": return .string(try value.pyStr())
        case "sort":
            var items = try r.iterate(value)
            let attribute = try a.string(2, "attribute")
            let caseSensitive = a.bool(1, "case_sensitive") ?? false
            try sortValues(&items, reverse: a.bool(0, "reverse") ?? false) { v in
                let key = try attribute.map { try attributePath(v, $0, r) } ?? v
                return caseSensitive ? key : foldCase(key)
            }
            return .makeList(items)
        case "sum":
            var total = a.get(1, "start") ?? .int(0)
            let attribute = try a.string(0, "attribute")
            for item in try r.iterate(value) {
                total = try JinjaOperators.binary(.add, total, try attribute.map { try attributePath(item, $0, r) } ?? item, r.limits)
            }
            return total
        case "title": return .string(jinjaTitle(try value.pyStr()))
        case "tojson": return .string(try toJSON(value, a))
        case "trim": return .string(PythonText.strip(try value.pyStr(), try a.string(0, "chars")))
        case "unique":
            let attribute = try a.string(1, "attribute")
            let caseSensitive = a.bool(0, "case_sensitive") ?? false
            var seen: [JinjaValue] = []
            var out: [JinjaValue] = []
            for item in try r.iterate(value) {
                var key = try attribute.map { try attributePath(item, $0, r) } ?? item
                if !caseSensitive { key = foldCase(key) }
                if !seen.contains(where: { JinjaOperators.equals($0, key) }) {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .makeList(out)
        case "wordcount":
            var count = 0
            var inWord = false
            for c in try value.pyStr().unicodeScalars {
                let word = c.properties.isAlphabetic || c.properties.numericType != nil || c == "_"
                if word && !inWord { count += 1 }
                inWord = word
            }
            return .int(count)
        default:
            throw JinjaError(.unsupported, "the '\(name)' filter is not supported")
        }
    }

    static func length(_ value: JinjaValue) throws -> Int {
        switch value {
        case .string(let s): return s.unicodeScalars.count
        case .list(let l), .tuple(let l): return l.items.count
        case .dict(let d): return d.count
        case .undefined: return 0
        default: throw JinjaError(.type, "object of type '\(value.typeName)' has no len()")
        }
    }

    /// Jinja's `title` filter: upper-case the first character of every word
    /// (words start after whitespace, '-', and opening brackets).
    static func jinjaTitle(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for c in s.unicodeScalars {
            let separator = PythonText.isSpace(c) || "-([{<".unicodeScalars.contains(c)
            if separator {
                out.unicodeScalars.append(c)
                atWordStart = true
            } else {
                out += atWordStart ? c.properties.uppercaseMapping : c.properties.lowercaseMapping
                atWordStart = false
            }
        }
        return out
    }

    static func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func foldCase(_ v: JinjaValue) -> JinjaValue {
        if case .string(let s) = v { return .string(PythonText.lower(s)) }
        return v
    }

    /// Stable sort with Python's `<`; errors from incomparable items propagate.
    static func sortValues(_ items: inout [JinjaValue], reverse: Bool, key: (JinjaValue) throws -> JinjaValue) throws {
        let keys = try items.map(key)
        var order = Array(items.indices)
        var failure: Error? = nil
        order.sort { i, j in
            if failure != nil { return false }
            do {
                return reverse ? try JinjaOperators.less(keys[j], keys[i], "<") : try JinjaOperators.less(keys[i], keys[j], "<")
            } catch {
                failure = error
                return false
            }
        }
        if let failure { throw failure }
        items = order.map { items[$0] }
    }

    /// `attribute="a.b"` (dots descend; numeric parts index lists).
    static func attributePath(_ v: JinjaValue, _ path: String, _ r: JinjaRenderer) throws -> JinjaValue {
        var current = v
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            if let i = Int(part) { current = try r.getItem(current, .int(i)) } else { current = try r.getItem(current, .string(String(part))) }
        }
        return current
    }

    static func map(_ value: JinjaValue, _ a: CallArguments, _ r: JinjaRenderer) throws -> [JinjaValue] {
        let items = try r.iterate(value)
        if let attribute = try a.string(-1, "attribute") {
            let fallback = a.get(-1, "default")
            return try items.map { item in
                let v = try attributePath(item, attribute, r)
                if v.isUndefined, let fallback { return fallback }
                return v
            }
        }
        guard case .string(let filter)? = a.positional.first else { throw JinjaError(.type, "map() needs a filter name or attribute=") }
        guard supported.contains(filter) else { throw JinjaError(.assertion, "No filter named '\(filter)'.") }
        let rest = Array(a.positional.dropFirst())
        return try items.map { try apply(filter, $0, rest, a.keyword, r) }
    }

    static func select(_ items: [JinjaValue], _ a: CallArguments, attribute: Bool, keep: Bool, _ r: JinjaRenderer) throws -> [JinjaValue] {
        var rest = a.positional
        var path: String? = nil
        if attribute {
            guard case .string(let p)? = rest.first else { throw JinjaError(.type, "\(a.name)() needs an attribute name") }
            path = p
            rest.removeFirst()
        }
        var testName: String? = nil
        if !rest.isEmpty {
            guard case .string(let t) = rest.removeFirst() else { throw JinjaError(.type, "\(a.name)(): the test name must be a string") }
            guard JinjaTests.names.contains(t) else { throw JinjaError(.assertion, "No test named '\(t)'.") }
            testName = t
        }
        return try items.filter { item in
            let v = try path.map { try attributePath(item, $0, r) } ?? item
            let passed = try testName.map { try JinjaTests.apply($0, v, rest, a.keyword, r) } ?? v.truthy
            return passed == keep
        }
    }

    static func indent(_ text: String, _ a: CallArguments) throws -> String {
        var prefix = "    "
        if let w = a.get(0, "width") {
            if case .string(let s) = w { prefix = s } else if let n = w.asInt { prefix = String(repeating: " ", count: max(0, n)) }
        }
        let first = a.bool(1, "first") ?? false
        let blank = a.bool(2, "blank") ?? false
        var lines = PythonText.splitLines(text + "\n")
        var result: String
        if blank {
            result = lines.joined(separator: "\n" + prefix)
        } else {
            result = lines.isEmpty ? "" : lines.removeFirst()
            if !lines.isEmpty { result += "\n" + lines.map { $0.isEmpty ? $0 : prefix + $0 }.joined(separator: "\n") }
        }
        return first ? prefix + result : result
    }

    static func toInt(_ value: JinjaValue, _ a: CallArguments) throws -> JinjaValue {
        let fallback = a.get(0, "default") ?? .int(0)
        let base = try a.int(1, "base") ?? 10
        switch value {
        case .int, .bool: return .int(value.asInt!)
        case .double(let d):
            guard d.isFinite, abs(d) < 9.2e18 else { return fallback }
            return .int(Int(d))
        case .string(let raw):
            var s = PythonText.strip(raw).replacing("_", with: "")
            var negative = false
            if s.hasPrefix("-") || s.hasPrefix("+") { negative = s.hasPrefix("-"); s.removeFirst() }
            var radix = base
            let lower = s.lowercased()
            for (p, b) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(p) && (base == 0 || base == b) {
                radix = b
                s.removeFirst(2)
            }
            if radix == 0 { radix = 10 }
            if (2...36).contains(radix), let v = Int(s, radix: radix) { return .int(negative ? -v : v) }
            if let d = Double(PythonText.strip(raw)), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
            return fallback
        default:
            return fallback
        }
    }

    static func round(_ value: JinjaValue, _ a: CallArguments) throws -> JinjaValue {
        guard let x = value.asNumber else { throw JinjaError(.type, "round(): '\(value.typeName)' is not a number") }
        let precision = try a.int(0, "precision") ?? 0
        let method = try a.string(1, "method") ?? "common"
        let scale = Foundationless.pow(10, Double(precision))
        switch method {
        case "common": return .double((x * scale).rounded(.toNearestOrEven) / scale)
        case "floor": return .double((x * scale).rounded(.down) / scale)
        case "ceil": return .double((x * scale).rounded(.up) / scale)
        default: throw JinjaError(.type, "method must be common, ceil or floor")
        }
    }

    /// transformers' tojson: `json.dumps(x, ensure_ascii=False, indent=None,
    /// separators=None, sort_keys=False)`.
    static func toJSON(_ value: JinjaValue, _ a: CallArguments) throws -> String {
        var options = JSONDumpOptions()
        if let indent = a.get(1, "indent"), !indent.isNone {
            if case .string(let s) = indent { options.indent = s } else if let n = indent.asInt { options.indent = String(repeating: " ", count: max(0, n)) }
            options.itemSeparator = ","
        }
        if let separators = a.get(2, "separators"), !separators.isNone {
            guard case .string(let item)? = (try? JinjaRenderer.sequence(separators))?.first,
                  case .string(let key)? = (try? JinjaRenderer.sequence(separators))?.dropFirst().first else {
                throw JinjaError(.type, "tojson(): separators must be a pair of strings")
            }
            options.itemSeparator = item
            options.keySeparator = key
        }
        options.sortKeys = a.bool(3, "sort_keys") ?? false
        let text = try JinjaJSON.dumps(value, options)
        return a.bool(0, "ensure_ascii") == true ? asciiEscaped(text) : text
    }

    static func asciiEscaped(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if c.value < 0x80 { out.unicodeScalars.append(c); continue }
            for unit in String(c).utf16 {
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out
    }
}

extension JinjaRenderer {
    /// The elements of a list or tuple.
    static func sequence(_ v: JinjaValue) throws -> [JinjaValue] {
        switch v {
        case .list(let l), .tuple(let l): return l.items
        default: throw JinjaError(.type, "expected a list or tuple, got \(v.typeName)")
        }
    }
}
