/// jinja2's built-in tests (`x is defined`, `x is string`, ...), with the
/// Python type rules behind them: bool is a number, a dict is a sequence,
/// an undefined value is iterable.
enum JinjaTests {
    static let names: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "filter",
        "float", "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable", "le", "<=", "lower", "lt", "lessthan",
        "<", "mapping", "ne", "!=", "none", "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined",
        "upper",
    ]

    static func apply(_ name: String, _ v: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)],
                      _ r: JinjaRenderer) throws -> Bool {
        let a = CallArguments(name: name, positional: args, keyword: kwargs)
        func other() throws -> JinjaValue {
            guard let o = a.get(0, "other") else { throw JinjaError(.type, "test '\(name)' needs an argument") }
            return o
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": return v.isNone
        case "boolean": if case .bool = v { return true }; return false
        case "true": if case .bool(true) = v { return true }; return false
        case "false": if case .bool(false) = v { return true }; return false
        case "string": if case .string = v { return true }; return false
        case "mapping": if case .dict = v { return true }; return false
        case "number": return v.asNumber != nil
        case "integer": if case .int = v { return true }; return false
        case "float": if case .double = v { return true }; return false
        case "callable": if case .callable = v { return true }; return false
        case "iterable":
            switch v {
            case .string, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        case "sequence":
            switch v {
            case .string, .list, .tuple, .dict: return true
            default: return false
            }
        case "escaped": return false
        case "odd", "even":
            guard let i = v.asInt else { throw JinjaError(.type, "test '\(name)' needs an integer, got \(v.typeName)") }
            return (i & 1 == 1) == (name == "odd")
        case "divisibleby":
            guard let i = v.asInt, let n = (try other()).asInt else { throw JinjaError(.type, "divisibleby needs integers") }
            guard n != 0 else { throw JinjaError(.zeroDivision, "integer division or modulo by zero") }
            return i % n == 0
        case "eq", "equalto", "==": return JinjaOperators.equals(v, try other())
        case "ne", "!=": return !JinjaOperators.equals(v, try other())
        case "lt", "lessthan", "<": return try JinjaOperators.compare(.lt, v, try other())
        case "le", "<=": return try JinjaOperators.compare(.le, v, try other())
        case "gt", "greaterthan", ">": return try JinjaOperators.compare(.gt, v, try other())
        case "ge", ">=": return try JinjaOperators.compare(.ge, v, try other())
        case "in":
            guard let seq = a.get(0, "seq") else { throw JinjaError(.type, "test 'in' needs a sequence") }
            return try JinjaOperators.contains(seq, v)
        case "sameas":
            let o = try other()
            switch (v, o) {
            case (.none, .none): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.int(let x), .int(let y)): return x == y
            case (.string(let x), .string(let y)): return x.utf8.elementsEqual(y.utf8)
            case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)): return x === y
            case (.dict(let x), .dict(let y)): return x === y
            case (.namespace(let x), .namespace(let y)): return x === y
            default: return false
            }
        case "lower", "upper":
            return caseTest(try v.pyStr(), lower: name == "lower")
        case "filter":
            guard case .string(let n) = v else { return false }
            return JinjaFilters.supported.contains(n)
        case "test":
            guard case .string(let n) = v else { return false }
            return names.contains(n)
        default:
            throw JinjaError(.unsupported, "the '\(name)' test is not supported")
        }
    }

    /// `str.islower()` / `str.isupper()`: some cased character, none of the other case.
    static func caseTest(_ s: String, lower: Bool) -> Bool {
        var cased = false
        for c in s.unicodeScalars {
            let p = c.properties
            if p.generalCategory == .titlecaseLetter || (lower ? p.isUppercase : p.isLowercase) { return false }
            if PythonText.isCased(c) { cased = true }
        }
        return cased
    }
}
