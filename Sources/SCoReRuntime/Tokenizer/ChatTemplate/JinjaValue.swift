/// A value inside a Jinja template, with Python's semantics (what jinja2
/// computes with): strings index by code point, `1 == 1.0 == True`, `None`
/// prints as "None", dicts keep insertion order.
///
/// Containers are immutable (transformers renders in jinja2's
/// `ImmutableSandboxedEnvironment`), so they can be shared classes; each one
/// records its nesting depth so the interpreter can refuse to build
/// structures deep enough to overflow the stack when printed or freed.
public enum JinjaValue {
    case undefined(JinjaUndefined)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list(JinjaList)
    case tuple(JinjaList)
    case dict(JinjaDict)
    case namespace(JinjaNamespace)
    case loop(JinjaLoop)
    case callable(JinjaCallable)

    static func undefinedName(_ name: String) -> JinjaValue {
        .undefined(JinjaUndefined(message: "'\(name)' is undefined"))
    }

    static func makeList(_ items: [JinjaValue]) -> JinjaValue { .list(JinjaList(items)) }
    static func makeTuple(_ items: [JinjaValue]) -> JinjaValue { .tuple(JinjaList(items)) }

    var isUndefined: Bool { if case .undefined = self { return true }; return false }
    var isNone: Bool { if case .none = self { return true }; return false }

    /// Container nesting (0 for scalars).
    var depth: Int {
        switch self {
        case .list(let l), .tuple(let l): return l.depth
        case .dict(let d): return d.depth
        default: return 0
        }
    }

    /// Python truthiness.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let l), .tuple(let l): return !l.items.isEmpty
        case .dict(let d): return d.count > 0
        case .namespace, .loop, .callable: return true
        }
    }

    /// Python's `type(x).__name__`, as it appears in error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .loop: return "LoopContext"
        case .callable(let c): return c.isMacro ? "Macro" : "builtin_function_or_method"
        }
    }

    /// jinja2's `object_type_repr`, used in undefined-value messages.
    var objectTypeRepr: String {
        if case .none = self { return "None" }
        if case .namespace = self { return "jinja2.utils.Namespace object" }
        if case .loop = self { return "jinja2.runtime.LoopContext object" }
        return typeName + " object"
    }

    var asNumber: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// Integers, with bool as 0/1 (Python's bool is an int).
    var asInt: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
}

/// An undefined value with the message jinja2 would raise when it is used.
public struct JinjaUndefined {
    let message: String
    /// What using it raises: `.undefined`, or `.security` for a method the
    /// sandbox forbids (such as `list.append`).
    var kind: JinjaError.Kind = .undefined

    var error: JinjaError { JinjaError(kind, message) }
}

/// An immutable Python list or tuple.
public final class JinjaList {
    let items: [JinjaValue]
    let depth: Int

    init(_ items: [JinjaValue]) {
        self.items = items
        var d = 0
        for v in items { d = max(d, v.depth) }
        depth = d + 1
    }
}

/// A string compared and hashed by code points, as Python does (Swift's
/// String equality is canonical equivalence, which Python's is not).
struct PyStr: Hashable {
    let s: String
    static func == (a: PyStr, b: PyStr) -> Bool { a.s.utf8.elementsEqual(b.s.utf8) }
    func hash(into h: inout Hasher) {
        var copy = s
        copy.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// A dict key with Python's hashing rules (`1`, `1.0` and `True` are one key).
enum PyKey: Hashable {
    case string(PyStr)
    case int(Int)
    case double(Double)
    case none
    case tuple([PyKey])

    init(_ v: JinjaValue) throws {
        switch v {
        case .string(let s): self = .string(PyStr(s: s))
        case .int(let i): self = .int(i)
        case .bool(let b): self = .int(b ? 1 : 0)
        case .double(let d):
            if d.rounded() == d, abs(d) < 9.2e18 { self = .int(Int(d)) } else { self = .double(d) }
        case .none: self = .none
        case .tuple(let l): self = .tuple(try l.items.map { try PyKey($0) })
        default: throw JinjaError.type("unhashable type: '\(v.typeName)'")
        }
    }
}

/// An insertion-ordered Python dict.
public final class JinjaDict {
    private(set) var keys: [JinjaValue] = []
    private(set) var values: [JinjaValue] = []
    private var index: [PyKey: Int] = [:]
    private(set) var depth = 1

    init() {}

    var count: Int { keys.count }

    /// Later duplicates replace earlier values but keep the first position.
    func set(_ key: JinjaValue, _ value: JinjaValue) throws {
        let k = try PyKey(key)
        if let i = index[k] {
            values[i] = value
        } else {
            index[k] = keys.count
            keys.append(key)
            values.append(value)
        }
        depth = max(depth, max(key.depth, value.depth) + 1)
    }

    func setString(_ key: String, _ value: JinjaValue) {
        try? set(.string(key), value)
    }

    func get(_ key: JinjaValue) -> JinjaValue? {
        guard let k = try? PyKey(key), let i = index[k] else { return nil }
        return values[i]
    }

    func get(_ key: String) -> JinjaValue? { get(.string(key)) }
}

/// `namespace(...)`: the one mutable object templates may assign into.
public final class JinjaNamespace {
    var names: [String] = []
    var values: [String: JinjaValue] = [:]

    func set(_ name: String, _ value: JinjaValue) {
        if values.updateValue(value, forKey: name) == nil { names.append(name) }
    }
}

/// The `loop` variable inside a for block.
public final class JinjaLoop {
    let items: [JinjaValue]
    var index0 = 0
    let depth0: Int
    var lastChanged: [JinjaValue]? = nil

    init(items: [JinjaValue], depth0: Int) {
        self.items = items
        self.depth0 = depth0
    }
}

/// A function callable from a template: a global such as `range`, a bound
/// method such as `'x'.strip`, or a macro.
public final class JinjaCallable {
    let name: String
    let isMacro: Bool
    let call: (_ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue

    init(_ name: String, isMacro: Bool = false,
         _ call: @escaping (_ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue) {
        self.name = name
        self.isMacro = isMacro
        self.call = call
    }
}
