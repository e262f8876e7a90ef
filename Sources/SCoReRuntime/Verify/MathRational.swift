/// Exact rational numbers for the math verifier: Int64 numerator and
/// denominator, every operation checked. An overflow gives nil and the
/// caller falls back to floating point; answers in MATH stay far inside.
struct MathRational: Hashable, Sendable {
    /// Always reduced, denominator > 0.
    let numerator: Int64
    let denominator: Int64

    static let zero = MathRational(0)
    static let one = MathRational(1)

    init(_ n: Int64) {
        numerator = n
        denominator = 1
    }

    /// nil if the denominator is zero or reducing overflows (Int64.min).
    init?(_ n: Int64, _ d: Int64) {
        guard d != 0, n != .min, d != .min else { return nil }
        let g = Self.gcd(abs(n), abs(d))
        let sign: Int64 = d < 0 ? -1 : 1
        numerator = sign * n / max(g, 1)
        denominator = sign * d / max(g, 1)
    }

    var isZero: Bool { numerator == 0 }
    var isInteger: Bool { denominator == 1 }
    var double: Double { Double(numerator) / Double(denominator) }

    static func gcd(_ a: Int64, _ b: Int64) -> Int64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    static func + (a: MathRational, b: MathRational) -> MathRational? {
        let g = gcd(a.denominator, b.denominator)
        let (l, o1) = a.numerator.multipliedReportingOverflow(by: b.denominator / g)
        let (r, o2) = b.numerator.multipliedReportingOverflow(by: a.denominator / g)
        let (n, o3) = l.addingReportingOverflow(r)
        let (d, o4) = a.denominator.multipliedReportingOverflow(by: b.denominator / g)
        guard !(o1 || o2 || o3 || o4) else { return nil }
        return MathRational(n, d)
    }

    static prefix func - (a: MathRational) -> MathRational? {
        a.numerator == .min ? nil : MathRational(-a.numerator, a.denominator)
    }

    static func - (a: MathRational, b: MathRational) -> MathRational? {
        guard let nb = -b else { return nil }
        return a + nb
    }

    static func * (a: MathRational, b: MathRational) -> MathRational? {
        let g1 = gcd(abs(a.numerator), b.denominator), g2 = gcd(abs(b.numerator), a.denominator)
        let (n, o1) = (a.numerator / max(g1, 1)).multipliedReportingOverflow(by: b.numerator / max(g2, 1))
        let (d, o2) = (a.denominator / max(g2, 1)).multipliedReportingOverflow(by: b.denominator / max(g1, 1))
        guard !(o1 || o2) else { return nil }
        return MathRational(n, d)
    }

    var reciprocal: MathRational? { MathRational(denominator, numerator) }

    static func / (a: MathRational, b: MathRational) -> MathRational? {
        guard let r = b.reciprocal else { return nil }
        return a * r
    }

    /// a^k for an integer k with |k| ≤ 4096 (beyond that, or on overflow, nil).
    func power(_ k: Int64) -> MathRational? {
        guard abs(k) <= 4096 else { return nil }
        if k < 0 { return reciprocal?.power(-k) }
        var result = MathRational.one, base = self, e = k
        while e > 0 {
            if e & 1 == 1 { guard let r = result * base else { return nil }; result = r }
            e >>= 1
            if e > 0 { guard let b = base * base else { return nil }; base = b }
        }
        return result
    }

    /// The exact value of a decimal literal "12.375" (nil past Int64).
    static func decimal(_ literal: String) -> MathRational? {
        var n: Int64 = 0, d: Int64 = 1, fraction = false
        for c in literal.utf8 {
            if c == UInt8(ascii: ".") { fraction = true; continue }
            guard c >= 0x30, c <= 0x39 else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(c - 0x30))
            guard !(o1 || o2) else { return nil }
            n = s
            if fraction {
                let (dd, o3) = d.multipliedReportingOverflow(by: 10)
                guard !o3 else { return nil }
                d = dd
            }
        }
        return MathRational(n, d)
    }
}
