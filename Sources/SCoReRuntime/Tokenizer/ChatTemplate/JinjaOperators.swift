#if canImport(Glibc)
import Glibc
#endif

/// Python's operators on template values, with Python's error messages.
enum JinjaOperators {
    static func undefinedError(_ values: JinjaValue...) -> JinjaError? {
        for v in values { if case .undefined(let u) = v { return u.error } }
        return nil
    }

    static func unsupported(_ op: String, _ a: JinjaValue, _ b: JinjaValue) -> JinjaError {
        JinjaError(.type, "unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
    }

    static func negate(_ v: JinjaValue) throws -> JinjaValue {
        if let e = undefinedError(v) { throw e }
        if let i = v.asInt {
            guard i != Int.min else { throw JinjaError(.limit, "integer overflow") }
            return .int(-i)
        }
        if case .double(let d) = v { return .double(-d) }
        throw JinjaError(.type, "bad operand type for unary -: '\(v.typeName)'")
    }

    static func plus(_ v: JinjaValue) throws -> JinjaValue {
        if let e = undefinedError(v) { throw e }
        if let i = v.asInt { return .int(i) }
        if case .double = v { return v }
        throw JinjaError(.type, "bad operand type for unary +: '\(v.typeName)'")
    }

    static func overflow(_ op: String) -> JinjaError { JinjaError(.limit, "integer overflow in \(op)") }

    static func binary(_ op: BinaryOp, _ a: JinjaValue, _ b: JinjaValue, _ limits: JinjaLimits) throws -> JinjaValue {
        if op == .concat {
            let s = try a.pyStr() + b.pyStr()
            if s.utf8.count > limits.maxOutputBytes { throw JinjaError(.limit, "string longer than \(limits.maxOutputBytes) bytes") }
            return .string(s)
        }
        if let e = undefinedError(a, b) { throw e }
        // Integers (bool counts as int) stay integers, as in Python.
        if let x = a.asInt, let y = b.asInt {
            switch op {
            case .add: let (r, o) = x.addingReportingOverflow(y); if o { throw overflow("+") }; return .int(r)
            case .subtract: let (r, o) = x.subtractingReportingOverflow(y); if o { throw overflow("-") }; return .int(r)
            case .multiply: let (r, o) = x.multipliedReportingOverflow(by: y); if o { throw overflow("*") }; return .int(r)
            case .divide:
                guard y != 0 else { throw JinjaError(.zeroDivision, "division by zero") }
                return .double(Double(x) / Double(y))
            case .floorDivide:
                guard y != 0 else { throw JinjaError(.zeroDivision, "integer division or modulo by zero") }
                if x == Int.min && y == -1 { throw overflow("//") }
                let q = x / y
                return .int((x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q)
            case .modulo:
                guard y != 0 else { throw JinjaError(.zeroDivision, "integer modulo by zero") }
                if y == -1 { return .int(0) }
                let r = x % y
                return .int(r != 0 && (r < 0) != (y < 0) ? r + y : r)
            case .power:
                if y < 0 { return .double(Foundationless.pow(Double(x), Double(y))) }
                var result = 1, base = x, e = y
                while e > 0 {
                    if e & 1 == 1 { let (r, o) = result.multipliedReportingOverflow(by: base); if o { throw overflow("**") }; result = r }
                    e >>= 1
                    if e > 0 { let (r, o) = base.multipliedReportingOverflow(by: base); if o { throw overflow("**") }; base = r }
                }
                return .int(result)
            case .concat: break
            }
        }
        if let x = a.asNumber, let y = b.asNumber {
            switch op {
            case .add: return .double(x + y)
            case .subtract: return .double(x - y)
            case .multiply: return .double(x * y)
            case .divide:
                guard y != 0 else { throw JinjaError(.zeroDivision, "float division by zero") }
                return .double(x / y)
            case .floorDivide:
                guard y != 0 else { throw JinjaError(.zeroDivision, "float floor division by zero") }
                return .double((x / y).rounded(.down) == (x / y) ? x / y : pythonFloorDiv(x, y))
            case .modulo:
                guard y != 0 else { throw JinjaError(.zeroDivision, "float modulo") }
                var r = x.truncatingRemainder(dividingBy: y)
                if r != 0 && (r < 0) != (y < 0) { r += y }
                return .double(r)
            case .power: return .double(Foundationless.pow(x, y))
            case .concat: break
            }
        }
        switch (op, a, b) {
        case (.add, .string(let x), .string(let y)):
            if x.utf8.count + y.utf8.count > limits.maxOutputBytes { throw JinjaError(.limit, "string longer than \(limits.maxOutputBytes) bytes") }
            return .string(x + y)
        case (.add, .list(let x), .list(let y)): return .makeList(x.items + y.items)
        case (.add, .tuple(let x), .tuple(let y)): return .makeTuple(x.items + y.items)
        case (.add, .string, _): throw JinjaError(.type, "can only concatenate str (not \"\(b.typeName)\") to str")
        case (.add, .list, _): throw JinjaError(.type, "can only concatenate list (not \"\(b.typeName)\") to list")
        case (.multiply, .string(let s), _), (.multiply, _, .string(let s)):
            guard let n = (a.asInt ?? b.asInt) else { throw JinjaError(.type, "can't multiply sequence by non-int of type '\(a.asInt == nil ? a.typeName : b.typeName)'") }
            if n > 0 && s.utf8.count * min(n, limits.maxOutputBytes + 1) > limits.maxOutputBytes {
                throw JinjaError(.limit, "string longer than \(limits.maxOutputBytes) bytes")
            }
            return .string(n > 0 ? String(repeating: s, count: n) : "")
        case (.multiply, .list(let l), _), (.multiply, _, .list(let l)):
            guard let n = (a.asInt ?? b.asInt) else { throw JinjaError(.type, "can't multiply sequence by non-int") }
            if n > 0 && l.items.count * min(n, limits.maxRangeLength + 1) > limits.maxRangeLength {
                throw JinjaError(.limit, "list longer than \(limits.maxRangeLength) items")
            }
            return .makeList(n > 0 ? Array([[JinjaValue]](repeating: l.items, count: n).joined()) : [])
        case (.modulo, .string, _):
            throw JinjaError(.unsupported, "printf-style string formatting ('%' on strings) is not supported")
        default:
            throw unsupported(op.rawValue, a, b)
        }
    }

    private static func pythonFloorDiv(_ x: Double, _ y: Double) -> Double {
        var m = x.truncatingRemainder(dividingBy: y)
        if m != 0 && (m < 0) != (y < 0) { m += y }
        return ((x - m) / y).rounded()
    }

    // MARK: comparison

    /// Python `==` (deep for containers; 1 == 1.0 == True).
    static func equals(_ a: JinjaValue, _ b: JinjaValue, depth: Int = 0) -> Bool {
        if depth > 1000 { return false }
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)): return x.utf8.elementsEqual(y.utf8)
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            return x === y || (x.items.count == y.items.count && zip(x.items, y.items).allSatisfy { equals($0, $1, depth: depth + 1) })
        case (.dict(let x), .dict(let y)):
            if x === y { return true }
            guard x.count == y.count else { return false }
            for i in 0..<x.count {
                guard let v = y.get(x.keys[i]), equals(x.values[i], v, depth: depth + 1) else { return false }
            }
            return true
        case (.namespace(let x), .namespace(let y)): return x === y
        case (.loop(let x), .loop(let y)): return x === y
        case (.callable(let x), .callable(let y)): return x === y
        default:
            if let x = a.asInt, let y = b.asInt { return x == y }
            if let x = a.asNumber, let y = b.asNumber { return x == y }
            return false
        }
    }

    static func compare(_ op: CompareOp, _ a: JinjaValue, _ b: JinjaValue) throws -> Bool {
        switch op {
        case .eq: return equals(a, b)
        case .ne: return !equals(a, b)
        case .in: return try contains(b, a)
        case .notIn: return !(try contains(b, a))
        case .lt: return try less(a, b, "<")
        case .gt: return try less(b, a, ">")
        case .le: return try !less(b, a, "<=")
        case .ge: return try !less(a, b, ">=")
        }
    }

    /// Python `<`, reporting errors with the operator as written.
    static func less(_ a: JinjaValue, _ b: JinjaValue, _ shown: String) throws -> Bool {
        if let e = undefinedError(a, b) { throw e }
        if let x = a.asInt, let y = b.asInt { return x < y }
        if let x = a.asNumber, let y = b.asNumber { return x < y }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            return x.utf8.lexicographicallyPrecedes(y.utf8)
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x.items, y.items) where !equals(p, q) { return try less(p, q, shown) }
            return x.items.count < y.items.count
        default:
            let (l, r) = shown == ">" || shown == "<=" ? (b, a) : (a, b)
            throw JinjaError(.type, "'\(shown)' not supported between instances of '\(l.typeName)' and '\(r.typeName)'")
        }
    }

    /// Python `needle in container`.
    static func contains(_ container: JinjaValue, _ needle: JinjaValue) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let n) = needle else {
                throw JinjaError(.type, "'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            return n.isEmpty || PythonText.findScalars(n, in: Substring(s)) != nil
        case .list(let l), .tuple(let l): return l.items.contains { equals($0, needle) }
        case .dict(let d): return d.get(needle) != nil
        case .undefined: return false
        case .namespace(let ns):
            if case .string(let n) = needle { return ns.values[n] != nil }
            return false
        default:
            throw JinjaError(.type, "argument of type '\(container.typeName)' is not iterable")
        }
    }

    // MARK: slicing

    static func slice(_ v: JinjaValue, _ start: JinjaValue?, _ stop: JinjaValue?, _ step: JinjaValue?) throws -> JinjaValue {
        if let e = undefinedError(v) { throw e }
        func int(_ x: JinjaValue?) throws -> Int? {
            guard let x, !x.isNone else { return nil }
            guard let i = x.asInt else { throw JinjaError(.type, "slice indices must be integers or None") }
            return i
        }
        let stepValue = try int(step) ?? 1
        guard stepValue != 0 else { throw JinjaError(.value, "slice step cannot be zero") }
        func indices(_ n: Int) throws -> [Int] {
            var lo = try int(start), hi = try int(stop)
            if stepValue > 0 {
                var s = lo ?? 0, e = hi ?? n
                if s < 0 { s = max(0, s + n) }; if e < 0 { e = max(0, e + n) }
                s = min(s, n); e = min(e, n)
                return s < e ? Array(stride(from: s, to: e, by: stepValue)) : []
            }
            if let l = lo, l < 0 { lo = l + n }; if let h = hi, h < 0 { hi = h + n }
            let s = min(lo ?? n - 1, n - 1)
            let e = hi.map { max($0, -1) } ?? -1
            return s > e ? Array(stride(from: s, to: e, by: stepValue)) : []
        }
        switch v {
        case .list(let l): return .makeList(try indices(l.items.count).map { l.items[$0] })
        case .tuple(let l): return .makeTuple(try indices(l.items.count).map { l.items[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        default:
            throw JinjaError(.type, "'\(v.typeName)' object is not subscriptable")
        }
    }
}

/// `pow` without Foundation.
enum Foundationless {
    static func pow(_ x: Double, _ y: Double) -> Double {
        #if canImport(Glibc)
        return Glibc.pow(x, y)
        #else
        return x  // unreachable on supported platforms
        #endif
    }
}
