#if canImport(Glibc)
import Glibc
#endif

/// Deciding whether two expressions are equal: an exact normal form first,
/// numeric evaluation where the normal form cannot decide.
///
/// The normal form is a quotient of polynomials with rational coefficients
/// over "atoms": variables, π, e, and whatever the normaliser does not
/// expand (sin x, √x, log 2). Square and higher roots of rationals are
/// atoms too, reduced (√8 = 2√2, (√2)² = 2). If the two quotients cross-
/// multiply to the same polynomial the expressions are equal (exactly).
/// If they differ and every atom is a variable or π or e, they differ
/// (exactly: distinct polynomials over Q in algebraically independent
/// atoms). Otherwise, and whenever the work would exceed the bounds below
/// (terms, exponents, Int64 coefficients), both sides are evaluated at
/// random points and compared within a relative 1e-11 (`tolerance`).
enum MathAlgebra {
    /// Terms one polynomial may hold before the normaliser gives up.
    static let maxTerms = 512
    /// Largest integer power expanded exactly.
    static let maxExponent: Int64 = 64
    /// Relative difference below which numeric evaluation calls two values
    /// equal: far above double rounding (1e-16), far below any real mistake.
    static let tolerance = 1e-11

    enum Verdict { case equal, different, unknown }

    static func compare(_ a: MathExpr, _ b: MathExpr) -> Verdict {
        var atoms = AtomTable()
        if let x = normalForm(a, &atoms), let y = normalForm(b, &atoms),
           let left = x.numerator * y.denominator, let right = y.numerator * x.denominator,
           let difference = left - right, let reducedDifference = reduced(difference, atoms) {
            if reducedDifference.isZero { return .equal }
            // Independent atoms, or a difference that is a nonzero number: settled.
            if atoms.allIndependent || reducedDifference.constantValue != nil { return .different }
        }
        return numericCompare(a, b)
    }

    // MARK: numbers as values

    /// The value of an expression without variables, or nil.
    static func value(_ e: MathExpr) -> Double? {
        let v = evaluate(e, point: [:])
        return v.isFinite ? v : nil
    }

    /// Free variables of an expression.
    static func variables(_ e: MathExpr, into set: inout Set<String>) {
        switch e {
        case .symbol(let s): set.insert(s)
        case .integer, .decimal, .pi, .euler, .imaginary, .infinity: break
        case .sum(let t), .product(let t), .function(_, let t): for x in t { variables(x, into: &set) }
        case .negation(let x): variables(x, into: &set)
        case .quotient(let x, let y), .power(let x, let y): variables(x, into: &set); variables(y, into: &set)
        }
    }

    // MARK: numeric comparison

    private static func numericCompare(_ a: MathExpr, _ b: MathExpr) -> Verdict {
        var names = Set<String>()
        variables(a, into: &names)
        variables(b, into: &names)
        let ordered = names.sorted()
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        var agreeing = 0
        for _ in 0..<12 {
            var point: [String: Double] = [:]
            for name in ordered {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                // |value| in [0.35, 2.85), either sign: away from 0 and ±1, where
                // distinct forms coincide, and negative too, or √(x²) would pass for x.
                let magnitude = 0.35 + Double(rng >> 12) / Double(1 << 52) * 2.5
                point[name] = rng & 1 == 0 ? magnitude : -magnitude
            }
            let x = evaluate(a, point: point), y = evaluate(b, point: point)
            // Outside one side's domain (log of a negative, √ of a negative): another point.
            if x.isNaN || y.isNaN { continue }
            guard x.isFinite, y.isFinite else { return x == y ? .unknown : .different }
            if abs(x - y) > tolerance * max(1, abs(x), abs(y)) { return .different }
            agreeing += 1
            if agreeing == (ordered.isEmpty ? 1 : 4) { return .equal }
        }
        return agreeing > 0 ? .equal : .unknown
    }

    static func evaluate(_ e: MathExpr, point: [String: Double]) -> Double {
        switch e {
        case .integer(let n): return Double(n) ?? .nan
        case .decimal(let d): return Double(d) ?? .nan
        case .symbol(let s): return point[s] ?? .nan
        case .pi: return Double.pi
        case .euler: return 2.718281828459045
        case .imaginary: return .nan
        case .infinity: return .infinity
        case .sum(let t): return t.reduce(0) { $0 + evaluate($1, point: point) }
        case .product(let t): return t.reduce(1) { $0 * evaluate($1, point: point) }
        case .negation(let x): return -evaluate(x, point: point)
        case .quotient(let x, let y): return evaluate(x, point: point) / evaluate(y, point: point)
        case .power(let x, let y): return realPower(evaluate(x, point: point), evaluate(y, point: point))
        case .function(let f, let args):
            let v = args.map { evaluate($0, point: point) }
            return apply(f, v)
        }
    }

    private static func realPower(_ x: Double, _ y: Double) -> Double {
        if x < 0, y != y.rounded() {
            // Odd roots of negatives are real: (-8)^(1/3) = -2.
            let q = (1 / y).rounded()
            if abs(1 / y - q) < 1e-12, Int(q) % 2 != 0 { return -pow(-x, y) }
            return .nan
        }
        return pow(x, y)
    }

    private static func apply(_ f: String, _ v: [Double]) -> Double {
        guard let x = v.first else { return .nan }
        switch f {
        case "sqrt": return x < 0 ? .nan : x.squareRoot()
        case "root":
            guard v.count == 2 else { return .nan }
            return realPower(v[1], 1 / v[0])
        case "abs": return abs(x)
        case "factorial":
            guard x >= 0, x == x.rounded(), x <= 170 else { return .nan }
            return (0..<Int(x)).reduce(1.0) { $0 * Double($1 + 1) }
        case "binom":
            guard v.count == 2, v[1] >= 0, v[1] == v[1].rounded(), v[1] <= 170 else { return .nan }
            var r = 1.0
            for j in 0..<Int(v[1]) { r = r * (v[0] - Double(j)) / Double(j + 1) }
            return r
        case "sin": return sin(x)
        case "cos": return cos(x)
        case "tan": return tan(x)
        case "cot": return 1 / tan(x)
        case "sec": return 1 / cos(x)
        case "csc": return 1 / sin(x)
        case "arcsin": return asin(x)
        case "arccos": return acos(x)
        case "arctan": return atan(x)
        case "sinh": return sinh(x)
        case "cosh": return cosh(x)
        case "tanh": return tanh(x)
        case "exp": return exp(x)
        case "ln": return log(x)
        case "lg": return log(x) / log(10)
        case "log":
            if v.count == 2 { return log(x) / log(v[1]) }
            return log(x)
        default: return .nan
        }
    }

    // MARK: the exact normal form

    struct AtomTable {
        var index: [String: Int] = [:]
        /// For an atom that is a root of a rational: (degree q, radicand) with atom^q = radicand.
        var roots: [Int: (q: Int64, radicand: MathRational)] = [:]
        /// Whether every atom so far is a variable, π or e.
        var allIndependent = true

        mutating func id(_ key: String) -> Int {
            if let k = index[key] { return k }
            index[key] = index.count
            return index.count - 1
        }
    }

    /// Exponents of atoms, sorted by atom id.
    typealias Monomial = [Int: Int64]

    struct Polynomial {
        var terms: [Monomial: MathRational]

        static func constant(_ c: MathRational) -> Polynomial { Polynomial(terms: c.isZero ? [:] : [[:]: c]) }
        static func atom(_ id: Int) -> Polynomial { Polynomial(terms: [[id: 1]: .one]) }
        var isZero: Bool { terms.isEmpty }
        var constantValue: MathRational? {
            if terms.isEmpty { return .zero }
            guard terms.count == 1, let (m, c) = terms.first, m.isEmpty else { return nil }
            return c
        }

        static func + (a: Polynomial, b: Polynomial) -> Polynomial? {
            var t = a.terms
            for (m, c) in b.terms {
                guard let s = (t[m] ?? .zero) + c else { return nil }
                t[m] = s.isZero ? nil : s
            }
            return t.count > MathAlgebra.maxTerms ? nil : Polynomial(terms: t)
        }

        static func - (a: Polynomial, b: Polynomial) -> Polynomial? {
            guard let nb = b.scaled(MathRational(-1)) else { return nil }
            return a + nb
        }

        func scaled(_ k: MathRational) -> Polynomial? {
            var t: [Monomial: MathRational] = [:]
            for (m, c) in terms {
                guard let p = c * k else { return nil }
                if !p.isZero { t[m] = p }
            }
            return Polynomial(terms: t)
        }

        static func * (a: Polynomial, b: Polynomial) -> Polynomial? {
            guard a.terms.count * b.terms.count <= MathAlgebra.maxTerms * 8 else { return nil }
            var t: [Monomial: MathRational] = [:]
            for (ma, ca) in a.terms {
                for (mb, cb) in b.terms {
                    var m = ma
                    for (atom, e) in mb { m[atom, default: 0] += e }
                    guard let p = ca * cb, let s = (t[m] ?? .zero) + p else { return nil }
                    t[m] = s.isZero ? nil : s
                }
            }
            return t.count > MathAlgebra.maxTerms ? nil : Polynomial(terms: t)
        }
    }

    /// numerator / denominator.
    struct Fraction {
        var numerator: Polynomial
        var denominator: Polynomial

        init(_ p: Polynomial) { numerator = p; denominator = .constant(.one) }
        init(_ n: Polynomial, _ d: Polynomial) { numerator = n; denominator = d }

        static func + (a: Fraction, b: Fraction) -> Fraction? {
            if let da = a.denominator.constantValue, let db = b.denominator.constantValue, da == db {
                guard let n = a.numerator + b.numerator else { return nil }
                return Fraction(n, a.denominator)
            }
            guard let l = a.numerator * b.denominator, let r = b.numerator * a.denominator,
                  let n = l + r, let d = a.denominator * b.denominator else { return nil }
            return Fraction(n, d)
        }

        static func * (a: Fraction, b: Fraction) -> Fraction? {
            guard let n = a.numerator * b.numerator, let d = a.denominator * b.denominator else { return nil }
            return Fraction(n, d)
        }

        var reciprocal: Fraction? { numerator.isZero ? nil : Fraction(denominator, numerator) }

        func power(_ k: Int64) -> Fraction? {
            guard abs(k) <= MathAlgebra.maxExponent else { return nil }
            if k < 0 { return reciprocal?.power(-k) }
            var result = Fraction(.constant(.one))
            for _ in 0..<k { guard let r = result * self else { return nil }; result = r }
            return result
        }
    }

    static func normalForm(_ e: MathExpr, _ atoms: inout AtomTable) -> Fraction? {
        switch e {
        case .integer(let n):
            guard let v = Int64(n) else { return nil }
            return Fraction(.constant(MathRational(v)))
        case .decimal(let d):
            guard let r = MathRational.decimal(d) else { return nil }
            return Fraction(.constant(r))
        case .symbol(let s): return Fraction(.atom(atoms.id("v:" + s)))
        case .pi: return Fraction(.atom(atoms.id("pi")))
        case .euler: return Fraction(.atom(atoms.id("e")))
        case .imaginary, .infinity: return nil
        case .sum(let terms):
            var total = Fraction(.constant(.zero))
            for t in terms {
                guard let f = normalForm(t, &atoms), let s = total + f else { return nil }
                total = s
            }
            return reduced(total, &atoms)
        case .product(let factors):
            var total = Fraction(.constant(.one))
            for t in factors {
                guard let f = normalForm(t, &atoms), let p = total * f else { return nil }
                total = p
            }
            return reduced(total, &atoms)
        case .negation(let x):
            guard let f = normalForm(x, &atoms), let n = f.numerator.scaled(MathRational(-1)) else { return nil }
            return Fraction(n, f.denominator)
        case .quotient(let x, let y):
            guard let a = normalForm(x, &atoms), let b = normalForm(y, &atoms), let r = b.reciprocal, let q = a * r else { return nil }
            return reduced(q, &atoms)
        case .power(let base, let exponent):
            guard let ef = normalForm(exponent, &atoms), let k = rationalConstant(ef) else { return opaque(e, &atoms) }
            guard let bf = normalForm(base, &atoms) else { return nil }
            if k.isInteger {
                guard let p = bf.power(k.numerator) else { return nil }
                return reduced(p, &atoms)
            }
            // A rational power of a rational: a root.
            guard let c = rationalConstant(bf), let whole = c.power(k.numerator) else { return opaque(e, &atoms) }
            return root(of: whole, degree: k.denominator, &atoms) ?? opaque(e, &atoms)
        case .function(let name, let args):
            let values = args.compactMap { a -> MathRational? in
                var scratch = atoms
                return normalForm(a, &scratch).flatMap(rationalConstant)
            }
            if values.count == args.count {
                switch name {
                case "sqrt": if let r = root(of: values[0], degree: 2, &atoms) { return r }
                case "root":
                    if values[0].isInteger, values[0].numerator > 0, let r = root(of: values[1], degree: values[0].numerator, &atoms) { return r }
                case "abs": return Fraction(.constant(values[0].numerator < 0 ? (-values[0] ?? values[0]) : values[0]))
                case "factorial":
                    if values[0].isInteger, (0...20).contains(values[0].numerator) {
                        return Fraction(.constant(MathRational((1...max(1, values[0].numerator)).reduce(Int64(1), *))))
                    }
                case "binom":
                    if values[0].isInteger, values[1].isInteger, values[1].numerator >= 0, values[1].numerator <= 60 {
                        var r = MathRational.one
                        for j in 0..<values[1].numerator {
                            guard let t = values[0] - MathRational(j), let m = r * t, let q = m / MathRational(j + 1) else { return nil }
                            r = q
                        }
                        return Fraction(.constant(r))
                    }
                default: break
                }
            }
            return opaque(e, &atoms)
        }
    }

    private static func rationalConstant(_ f: Fraction) -> MathRational? {
        guard let n = f.numerator.constantValue, let d = f.denominator.constantValue else { return nil }
        return n / d
    }

    /// An expression the normal form keeps whole: an atom named by its spelling.
    private static func opaque(_ e: MathExpr, _ atoms: inout AtomTable) -> Fraction {
        atoms.allIndependent = false
        return Fraction(.atom(atoms.id("f:" + MathParser.key(e))))
    }

    /// c^(1/q) as k · (r)^(1/q) with r free of q-th powers; nil for negative c with even q.
    private static func root(of c: MathRational, degree q: Int64, _ atoms: inout AtomTable) -> Fraction? {
        guard q >= 2, q <= 12 else { return nil }
        if c.isZero { return Fraction(.constant(.zero)) }
        var sign: Int64 = 1
        var c = c
        if c.numerator < 0 {
            guard q % 2 == 1, let n = -c else { return nil }
            sign = -1
            c = n
        }
        // c = n/d = n·d^(q-1) / d^q: only an integer radicand remains.
        guard let dPower = MathRational(c.denominator).power(q - 1), let scaled = c * dPower, scaled.isInteger else { return nil }
        var radicand = scaled.numerator
        var outside: Int64 = 1
        var p: Int64 = 2
        while p <= 1000, let pq = MathRational(p).power(q), pq.numerator <= radicand {
            while radicand % pq.numerator == 0 { radicand /= pq.numerator; outside *= p }
            p += 1
        }
        guard let coefficient = MathRational(sign * outside, c.denominator) else { return nil }
        if radicand == 1 { return Fraction(.constant(coefficient)) }
        let id = atoms.id("r:\(q):\(radicand)")
        atoms.roots[id] = (q, MathRational(radicand))
        atoms.allIndependent = false
        guard let poly = Polynomial.atom(id).scaled(coefficient) else { return nil }
        return Fraction(poly)
    }

    /// Applies root atoms' relations ((r^(1/q))^q = r) to both sides.
    private static func reduced(_ f: Fraction, _ atoms: inout AtomTable) -> Fraction? {
        guard !atoms.roots.isEmpty else { return f }
        guard let n = reduced(f.numerator, atoms), let d = reduced(f.denominator, atoms) else { return nil }
        return Fraction(n, d)
    }

    private static func reduced(_ p: Polynomial, _ atoms: AtomTable) -> Polynomial? {
        var out = Polynomial(terms: [:])
        for (m, c) in p.terms {
            var monomial = m
            var coefficient = c
            for (atom, e) in m {
                guard let (q, radicand) = atoms.roots[atom], e >= q || e < 0 else { continue }
                // e = q·k + r with 0 <= r < q.
                var k = e / q, r = e % q
                if r < 0 { r += q; k -= 1 }
                guard let factor = radicand.power(k), let scaled = coefficient * factor else { return nil }
                coefficient = scaled
                monomial[atom] = r == 0 ? nil : r
            }
            guard let sum = out + Polynomial(terms: [monomial: coefficient]) else { return nil }
            out = sum
        }
        return out
    }
}
