/// Turning values into text: Python's `str()` and `repr()` (what `{{ x }}`,
/// `~` and `|string` produce) and transformers' `tojson` filter, which is
/// `json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...)`.
extension JinjaValue {
    /// Python `str(x)`; undefined prints as "" (jinja2's default `Undefined`).
    func pyStr() throws -> String {
        switch self {
        case .string(let s): return s
        case .undefined: return ""
        default: return try pyRepr()
        }
    }

    /// Python `repr(x)`.
    func pyRepr(depth: Int = 0) throws -> String {
        if depth > 1000 { throw JinjaError(.limit, "value nested too deeply to print") }
        switch self {
        case .undefined: return "Undefined"
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return PythonText.floatRepr(d)
        case .string(let s): return PythonText.stringRepr(s)
        case .list(let l):
            return "[" + (try l.items.map { try $0.pyRepr(depth: depth + 1) }).joined(separator: ", ") + "]"
        case .tuple(let l):
            let parts = try l.items.map { try $0.pyRepr(depth: depth + 1) }
            return parts.count == 1 ? "(" + parts[0] + ",)" : "(" + parts.joined(separator: ", ") + ")"
        case .dict(let d):
            var parts: [String] = []
            for i in 0..<d.count {
                parts.append(try d.keys[i].pyRepr(depth: depth + 1) + ": " + d.values[i].pyRepr(depth: depth + 1))
            }
            return "{" + parts.joined(separator: ", ") + "}"
        case .namespace(let ns):
            var parts: [String] = []
            for name in ns.names { parts.append(PythonText.stringRepr(name) + ": " + (try ns.values[name]!.pyRepr(depth: depth + 1))) }
            return "<Namespace {" + parts.joined(separator: ", ") + "}>"
        case .loop(let l): return "<LoopContext \(l.index0 + 1)/\(l.items.count)>"
        case .callable(let c): return c.isMacro ? "<Macro '\(c.name)'>" : "<built-in function \(c.name)>"
        }
    }
}

/// Options of transformers' `tojson` filter.
struct JSONDumpOptions {
    /// nil: one line; otherwise newline + this string per level.
    var indent: String? = nil
    var itemSeparator = ", "
    var keySeparator = ": "
    var sortKeys = false
}

enum JinjaJSON {
    static func dumps(_ v: JinjaValue, _ options: JSONDumpOptions) throws -> String {
        var out = ""
        try write(v, options, level: 0, into: &out)
        return out
    }

    private static func write(_ v: JinjaValue, _ o: JSONDumpOptions, level: Int, into out: inout String) throws {
        if level > 1000 { throw JinjaError(.value, "Circular reference detected") }
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += PythonText.floatRepr(d) }
        case .string(let s): writeString(s, into: &out)
        case .list(let l), .tuple(let l):
            if l.items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in l.items.enumerated() {
                if i > 0 { out += o.itemSeparator }
                newline(o, level + 1, &out)
                try write(item, o, level: level + 1, into: &out)
            }
            newline(o, level, &out)
            out += "]"
        case .dict(let d):
            if d.count == 0 { out += "{}"; return }
            var order = Array(0..<d.count)
            var keyTexts: [String] = []
            for k in d.keys { keyTexts.append(try keyText(k)) }
            if o.sortKeys {
                order.sort { keyTexts[$0].unicodeScalars.lexicographicallyPrecedes(keyTexts[$1].unicodeScalars) { $0.value < $1.value } }
            }
            out += "{"
            for (n, i) in order.enumerated() {
                if n > 0 { out += o.itemSeparator }
                newline(o, level + 1, &out)
                writeString(keyTexts[i], into: &out)
                out += o.keySeparator
                try write(d.values[i], o, level: level + 1, into: &out)
            }
            newline(o, level, &out)
            out += "}"
        default:
            throw JinjaError(.type, "Object of type \(v.typeName) is not JSON serializable")
        }
    }

    private static func newline(_ o: JSONDumpOptions, _ level: Int, _ out: inout String) {
        guard let indent = o.indent else { return }
        out += "\n"
        for _ in 0..<level { out += indent }
    }

    /// json.dumps converts non-string keys: True -> "true", 1.5 -> "1.5".
    private static func keyText(_ k: JinjaValue) throws -> String {
        switch k {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .none: return "null"
        case .int(let i): return String(i)
        case .double(let d): return d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : PythonText.floatRepr(d)
        default: throw JinjaError(.type, "keys must be str, int, float, bool or None, not \(k.typeName)")
        }
    }

    /// A JSON string with ensure_ascii=False: only '"', '\\' and control
    /// characters below U+0020 are escaped.
    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        var plainStart = s.unicodeScalars.startIndex
        let scalars = s.unicodeScalars
        var i = scalars.startIndex
        while i < scalars.endIndex {
            let c = scalars[i]
            if c.value < 0x20 || c == "\"" || c == "\\" {
                out.unicodeScalars.append(contentsOf: scalars[plainStart..<i])
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case "\u{08}": out += "\\b"
                case "\u{0C}": out += "\\f"
                default:
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
                plainStart = scalars.index(after: i)
            }
            i = scalars.index(after: i)
        }
        out.unicodeScalars.append(contentsOf: scalars[plainStart..<scalars.endIndex])
        out += "\""
    }

    /// Converts parsed JSON (messages, tools, kwargs) into template values.
    static func value(from json: JSON) -> JinjaValue {
        switch json {
        case .null: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return Int(exactly: i).map { .int($0) } ?? .double(Double(i))
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .array(let a): return .makeList(a.map { value(from: $0) })
        case .object(let o):
            let d = JinjaDict()
            for k in o.keys { d.setString(k, value(from: o[k]!)) }
            return .dict(d)
        }
    }
}
