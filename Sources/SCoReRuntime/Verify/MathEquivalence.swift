/// When a predicted answer equals a reference answer, decided the way
/// Hugging Face's math-verify decides it (its `verify(gold, prediction)`),
/// on our own parser and algebra instead of SymPy:
///
/// - an assignment "x = 3" stands for its right side when the other
///   answer is not an equation ("x = 3" vs "3");
/// - numbers: exact, except that a decimal is compared rounded to 6
///   places, as math-verify rounds floats (0.3333333 = 1/3; 0.333 ≠ 1/3),
///   and an integer equals a decimal only exactly (1 ≠ 1.0000001);
/// - a percent equals its value over 100 and, for whole numbers, the
///   number itself (25% = 0.25 = 25);
/// - formulas: equal when their difference is zero (`MathAlgebra`);
/// - sets and lists "a, b" are unordered, tuples ordered, an open
///   interval (a, b) is also the pair (a, b); intervals compare ends and
///   brackets, unions as sets of reals;
/// - equations and inequalities are equal when they have the same
///   solutions (sides may be swapped, scaled, rearranged);
/// - text compares case-insensitively ("\text{(A)}" = "A").
///
/// The comparison is not symmetric (nor is math-verify's): the first
/// argument is the reference.
enum MathEquivalence {
    static func equal(gold goldValue: MathValue, prediction predictionValue: MathValue) -> Bool {
        var gold = goldValue, prediction = predictionValue
        if let a = assignment(gold) { gold = a }
        if let a = assignment(prediction) { prediction = a }
        if isEquation(prediction), !isEquation(gold), case .relation(let sides, _) = prediction {
            prediction = .expression(sides[sides.count - 1], percent: false)
        } else if assignment(gold) != nil, !isEquation(prediction), case .relation(let sides, _) = gold {
            gold = .expression(sides[sides.count - 1], percent: false)
        }
        if case .relation = gold, isSetLike(prediction), let asSet = solutionSet(gold) { gold = asSet }

        switch (gold, prediction) {
        case (.relation(let a, let ra), .relation(let b, let rb)):
            return relationsEqual(a, ra, b, rb)
        case (.text(let a), .text(let b)):
            return a.lowercased() == b.lowercased()
        case (.text(let t), .expression(let e, _)), (.expression(let e, _), .text(let t)):
            return textEqualsLetters(t, e)
        case (.matrix(let a), .matrix(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { ra, rb in
                ra.count == rb.count && zip(ra, rb).allSatisfy { expressionsEqual($0, false, $1, false) }
            }
        case (.expression(let a, let pa), .expression(let b, let pb)):
            return expressionsEqual(a, pa, b, pb)
        default:
            if isSetLike(gold) || isSetLike(prediction) { return setsEqual(gold, prediction) }
            return false
        }
    }

    // MARK: relations

    /// "x = 3", "x = y = 3" (→ x = 3): an equation whose left side is only variables.
    private static func assignment(_ v: MathValue) -> MathValue? {
        guard case .relation(let sides, let relations) = v, relations.allSatisfy({ $0 == .equal }),
              onlyVariables(sides[0]) else { return nil }
        return .relation([sides[0], sides[sides.count - 1]], [.equal])
    }

    private static func onlyVariables(_ e: MathExpr) -> Bool {
        switch e {
        case .symbol: return true
        case .product(let f): return f.allSatisfy(onlyVariables)
        default: return false
        }
    }

    private static func isEquation(_ v: MathValue) -> Bool {
        guard case .relation(_, let relations) = v else { return false }
        return relations.allSatisfy { $0 == .equal }
    }

    private static func relationsEqual(_ a: [MathExpr], _ ra: [MathRelation], _ b: [MathExpr], _ rb: [MathRelation]) -> Bool {
        guard ra.count == rb.count else { return false }
        for k in 0..<ra.count where !relationEqual(a[k], ra[k], a[k + 1], b[k], rb[k], b[k + 1]) { return false }
        return true
    }

    /// l1 r1 h1 against l2 r2 h2: the same (or mirrored) relation between
    /// the same difference of sides, up to a constant factor (positive for
    /// inequalities, or negative with the relation mirrored).
    private static func relationEqual(_ l1: MathExpr, _ r1: MathRelation, _ h1: MathExpr,
                                      _ l2: MathExpr, _ r2: MathRelation, _ h2: MathExpr) -> Bool {
        let d1 = MathExpr.sum([l1, .negation(h1)]), d2 = MathExpr.sum([l2, .negation(h2)])
        if r1 == r2, MathAlgebra.compare(d1, d2) == .equal { return true }
        if r1.flipped == r2, MathAlgebra.compare(d1, .negation(d2)) == .equal { return true }
        // Scaled: d1 = k · d2 for a constant k.
        guard let k = constantRatio(d1, d2) else { return false }
        if r1 == .equal || r1 == .notEqual { return r1 == r2 }
        return k > 0 ? r1 == r2 : r1.flipped == r2
    }

    /// k when d1 / d2 is the same nonzero constant everywhere.
    private static func constantRatio(_ d1: MathExpr, _ d2: MathExpr) -> Double? {
        var names = Set<String>()
        MathAlgebra.variables(d1, into: &names)
        MathAlgebra.variables(d2, into: &names)
        guard !names.isEmpty else { return nil }
        var ratio: Double?
        var rng: UInt64 = 0x2545_F491_4F6C_DD1D
        for _ in 0..<4 {
            var point: [String: Double] = [:]
            for name in names.sorted() {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                point[name] = 0.35 + Double(rng >> 12) / Double(1 << 52) * 2.5
            }
            let x = MathAlgebra.evaluate(d1, point: point), y = MathAlgebra.evaluate(d2, point: point)
            guard x.isFinite, y.isFinite, y != 0, x != 0 else { return nil }
            let r = x / y
            if let ratio, abs(r - ratio) > 1e-9 * max(1, abs(ratio)) { return nil }
            ratio = r
        }
        return ratio
    }

    /// "x > 2" as (2, ∞), "-3 < x < 3" as (-3, 3), "x ≠ 1" as (-∞,1) ∪ (1,∞): one variable against numbers.
    private static func solutionSet(_ v: MathValue) -> MathValue? {
        guard case .relation(let sides, let relations) = v else { return nil }
        var lower: (MathExpr, Bool) = (.negation(.infinity), true), upper: (MathExpr, Bool) = (.infinity, true)
        var variable: String?
        for k in 0..<relations.count {
            var (left, relation, right) = (sides[k], relations[k], sides[k + 1])
            if case .symbol = right { (left, relation, right) = (right, relation.flipped, left) }
            guard case .symbol(let name) = left, variable == nil || variable == name, MathAlgebra.value(right) != nil else { return nil }
            variable = name
            switch relation {
            case .less: upper = (right, true)
            case .lessOrEqual: upper = (right, false)
            case .greater: lower = (right, true)
            case .greaterOrEqual: lower = (right, false)
            case .notEqual:
                guard relations.count == 1 else { return nil }
                return .union([.interval(.negation(.infinity), right, lowerOpen: true, upperOpen: true),
                               .interval(right, .infinity, lowerOpen: true, upperOpen: true)])
            case .equal: return .set([.expression(right, percent: false)])
            }
        }
        return .interval(lower.0, upper.0, lowerOpen: lower.1, upperOpen: upper.1)
    }

    // MARK: sets, tuples, intervals

    private static func isSetLike(_ v: MathValue) -> Bool {
        switch v {
        case .set, .tuple, .interval, .union: return true
        default: return false
        }
    }

    private static func setsEqual(_ gold: MathValue, _ prediction: MathValue) -> Bool {
        let a = isSetLike(gold) ? gold : .set([gold])
        let b = isSetLike(prediction) ? prediction : .set([prediction])
        switch (a, b) {
        case (.interval(let l1, let h1, let o1, let c1), .interval(let l2, let h2, let o2, let c2)):
            return o1 == o2 && c1 == c2 && expressionsEqual(l1, false, l2, false) && expressionsEqual(h1, false, h2, false)
        default: break
        }
        if let x = realSet(a), let y = realSet(b), x.count > 0, y.count > 0, !(isList(a) && isList(b)) {
            if sameRealSet(x, y) { return true }
        }
        switch (a, b) {
        case (.set(let xs), .set(let ys)):
            // Sets have no repeated elements: {1, 1, 2} = {1, 2}.
            let x = distinct(xs), y = distinct(ys)
            return x.count == y.count && zip(sorted(x), sorted(y)).allSatisfy { equal(gold: $0, prediction: $1) }
        case (.set(let x), .tuple(let y)):
            return x.count == y.count && zip(sorted(x), sorted(y)).allSatisfy { equal(gold: $0, prediction: $1) }
        case (.tuple(let x), .set(let y)), (.tuple(let x), .tuple(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal(gold: $0, prediction: $1) }
        case (.interval(let lo, let hi, true, true), .set(let y)), (.interval(let lo, let hi, true, true), .tuple(let y)):
            return y.count == 2 && equal(gold: .expression(lo, percent: false), prediction: y[0])
                && equal(gold: .expression(hi, percent: false), prediction: y[1])
        case (.set(let x), .interval(let lo, let hi, true, true)), (.tuple(let x), .interval(let lo, let hi, true, true)):
            return x.count == 2 && equal(gold: x[0], prediction: .expression(lo, percent: false))
                && equal(gold: x[1], prediction: .expression(hi, percent: false))
        default:
            return false
        }
    }

    private static func distinct(_ items: [MathValue]) -> [MathValue] {
        var out: [MathValue] = []
        for item in items where !out.contains(where: { equal(gold: $0, prediction: item) }) { out.append(item) }
        return out
    }

    private static func isList(_ v: MathValue) -> Bool {
        switch v {
        case .set, .tuple: return true
        default: return false
        }
    }

    /// Items sorted by value (then spelling), as SymPy orders a set's elements.
    private static func sorted(_ items: [MathValue]) -> [MathValue] {
        func key(_ v: MathValue) -> (Double, String) {
            if case .expression(let e, let percent) = v {
                var names = Set<String>()
                MathAlgebra.variables(e, into: &names)
                let point = Dictionary(uniqueKeysWithValues: names.map { ($0, 1.2345) })
                let x = MathAlgebra.evaluate(e, point: point) * (percent ? 0.01 : 1)
                return (x.isNaN ? .infinity : x, MathParser.key(e))
            }
            if case .relation(let sides, _) = v { return key(.expression(sides[sides.count - 1], percent: false)) }
            return (.infinity, "")
        }
        return items.sorted { key($0) < key($1) }
    }

    /// A set of reals as intervals [(lo, hi, lo open, hi open)], points as closed degenerate intervals.
    private typealias Span = (lo: Double, hi: Double, loOpen: Bool, hiOpen: Bool)

    private static func realSet(_ v: MathValue) -> [Span]? {
        switch v {
        case .interval(let l, let h, let lo, let ho):
            guard let a = endpoint(l), let b = endpoint(h), a <= b else { return nil }
            return [(a, b, lo, ho)]
        case .tuple(let items):
            // Inside a union, (a, b) is an open interval.
            guard items.count == 2, case .expression(let l, false) = items[0], case .expression(let h, false) = items[1],
                  let a = endpoint(l), let b = endpoint(h), a < b else { return nil }
            return [(a, b, true, true)]
        case .union(let parts):
            var spans: [Span] = []
            for p in parts { guard let s = realSet(p) else { return nil }; spans += s }
            return spans
        case .set(let items):
            var spans: [Span] = []
            for item in items {
                guard case .expression(let e, let percent) = item, !percent, let x = MathAlgebra.value(e) else { return nil }
                spans.append((x, x, false, false))
            }
            return spans
        default: return nil
        }
    }

    private static func endpoint(_ e: MathExpr) -> Double? {
        if case .infinity = e { return .infinity }
        if case .negation(.infinity) = e { return -.infinity }
        return MathAlgebra.value(e)
    }

    /// Whether two unions of spans cover the same reals: each is merged
    /// into disjoint sorted spans, then compared end by end.
    private static func sameRealSet(_ a: [Span], _ b: [Span]) -> Bool {
        let x = merged(a), y = merged(b)
        guard x.count == y.count else { return false }
        for (p, q) in zip(x, y) {
            guard close(p.lo, q.lo), close(p.hi, q.hi), p.loOpen == q.loOpen || p.lo.isInfinite, p.hiOpen == q.hiOpen || p.hi.isInfinite else {
                return false
            }
        }
        return true
    }

    private static func close(_ a: Double, _ b: Double) -> Bool {
        a == b || abs(a - b) <= 1e-12 * max(1, abs(a), abs(b))
    }

    private static func merged(_ spans: [Span]) -> [Span] {
        let sorted = spans.filter { !($0.lo == $0.hi && ($0.loOpen || $0.hiOpen)) }
            .sorted { $0.lo != $1.lo ? $0.lo < $1.lo : (!$0.loOpen && $1.loOpen) }
        var out: [Span] = []
        for s in sorted {
            if var last = out.last, s.lo < last.hi || (close(s.lo, last.hi) && !(s.loOpen && last.hiOpen)) {
                if s.hi > last.hi || (close(s.hi, last.hi) && !s.hiOpen) {
                    last.hi = s.hi
                    last.hiOpen = s.hiOpen
                }
                out[out.count - 1] = last
            } else {
                out.append(s)
            }
        }
        return out
    }

    // MARK: expressions

    /// How a number was written, as SymPy would type it.
    private enum NumberKind { case integer, float, rational }

    private static func numberKind(_ e: MathExpr) -> NumberKind? {
        switch e {
        case .integer: return .integer
        case .decimal: return .float
        case .negation(let x): return numberKind(x)
        case .quotient(let a, let b):
            if case .integer? = numberKind(a), case .integer? = numberKind(b) { return .rational }
            return nil
        case .sum(let t) where t.count == 2:
            // A mixed number 2\frac{1}{3}.
            if case .integer? = numberKind(t[0]), case .rational? = numberKind(t[1]) { return .rational }
            return nil
        default: return nil
        }
    }

    static func expressionsEqual(_ a: MathExpr, _ aPercent: Bool, _ b: MathExpr, _ bPercent: Bool) -> Bool {
        if a == b, aPercent == bPercent { return true }  // the same spelling, ∞ included
        let scaledA = aPercent ? MathExpr.quotient(a, .integer("100")) : a
        let scaledB = bPercent ? MathExpr.quotient(b, .integer("100")) : b
        let ka = numberKind(a), kb = numberKind(b)
        if ka != nil || kb != nil {
            if ka == .float || kb == .float {
                guard let x = MathAlgebra.value(scaledA), let y = MathAlgebra.value(scaledB) else { return false }
                // An integer equals a float only exactly; otherwise both are rounded to 6 places.
                if ka == .integer, !aPercent { return x == y }
                if kb == .integer, !bPercent { return x == y }
                return roundedTo6(x) == roundedTo6(y)
            }
            if ka == .integer, kb == .integer {
                // A percent equals its own number (25% = 25) and its value (100% = 1).
                return MathAlgebra.compare(a, b) == .equal || MathAlgebra.compare(scaledA, scaledB) == .equal
            }
        }
        if MathAlgebra.compare(scaledA, scaledB) == .equal { return true }
        // The percent of a whole number also equals that number.
        if (aPercent || bPercent), ka == .integer || kb == .integer { return MathAlgebra.compare(a, b) == .equal }
        return false
    }

    private static func roundedTo6(_ x: Double) -> Double {
        (x * 1e6).rounded(.toNearestOrEven) / 1e6
    }

    /// `\text{Monday}` against "Monday" written as letters (a product of one-letter variables).
    private static func textEqualsLetters(_ text: String, _ e: MathExpr) -> Bool {
        var letters: [String] = []
        func collect(_ e: MathExpr) -> Bool {
            switch e {
            case .symbol(let s): letters.append(s); return true
            case .euler: letters.append("e"); return true
            case .imaginary: letters.append("i"); return true
            case .product(let f): return f.allSatisfy(collect)
            default: return false
            }
        }
        guard collect(e) else { return false }
        return letters.joined().lowercased() == text.lowercased().filter { $0 != " " }
    }
}
