/// Serialises `JSON` values: compact, on one line with Python's default
/// separators (", " and ": ", as json.dumps(x)), or indented two spaces (as
/// json.dumps(x, indent=2)); keys in their stored order. Non-finite numbers
/// have no JSON spelling and are refused (`JSON.number` maps them to null).
extension JSON {
    public func serialized(indent: Bool = true) throws -> String {
        var out = ""
        try write(into: &out, level: 0, indent: indent, spaced: false)
        if indent { out += "\n" }
        return out
    }

    /// One line, `{"a": 1, "b": [1, 2]}`: Python's json.dumps default.
    public func serializedLine() throws -> String {
        var out = ""
        try write(into: &out, level: 0, indent: false, spaced: true)
        return out
    }

    /// A number, or null when it is NaN or infinite (JSON has no spelling
    /// for those). Floats keep their shortest decimal form.
    public static func number(_ value: Double) -> JSON { value.isFinite ? .double(value) : .null }
    public static func number(_ value: Float) -> JSON { value.isFinite ? .double(Double("\(value)") ?? Double(value)) : .null }

    private func write(into out: inout String, level: Int, indent: Bool, spaced: Bool) throws {
        let pad = indent ? "\n" + String(repeating: "  ", count: level + 1) : spaced ? " " : ""
        let close = indent ? "\n" + String(repeating: "  ", count: level) : ""
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            guard d.isFinite else { throw ScoreError.invalidArgument("cannot write the non-finite number \(d) as JSON") }
            out += d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) + ".0" : "\(d)"
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                out += i > 0 ? "," + pad : indent ? pad : ""
                try item.write(into: &out, level: level + 1, indent: indent, spaced: spaced)
            }
            out += close + "]"
        case .object(let o):
            if o.count == 0 { out += "{}"; return }
            out += "{"
            for (i, key) in o.keys.enumerated() {
                out += i > 0 ? "," + pad : indent ? pad : ""
                JSON.quote(key, into: &out)
                out += indent || spaced ? ": " : ":"
                try o[key]!.write(into: &out, level: level + 1, indent: indent, spaced: spaced)
            }
            out += close + "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    /// An object from ordered pairs.
    public static func object(_ pairs: [(String, JSON)]) -> JSON {
        var o = JSONObject()
        for (k, v) in pairs { o.set(k, v) }
        return .object(o)
    }
}
