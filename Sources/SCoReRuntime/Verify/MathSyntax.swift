/// The parsed form of a math answer: what was written, before any algebra.
///
/// `MathParser` builds it from LaTeX or plain text; `MathEquivalence`
/// compares two of them.
indirect enum MathExpr: Hashable, Sendable {
    /// Digits, exact however long.
    case integer(String)
    /// A decimal literal such as "0.25": a float in math-verify's sense, so
    /// compared rounded to 6 places when it stands alone.
    case decimal(String)
    case symbol(String)
    case pi, euler, imaginary, infinity
    case sum([MathExpr])
    case product([MathExpr])
    case negation(MathExpr)
    case quotient(MathExpr, MathExpr)
    case power(MathExpr, MathExpr)
    /// sqrt, sin, log, ..., "factorial", "binom", "abs", "root" (index, radicand).
    case function(String, [MathExpr])
}

enum MathRelation: Sendable, Equatable {
    case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual

    /// The same relation with its sides swapped: a < b is b > a.
    var flipped: MathRelation {
        switch self {
        case .equal, .notEqual: return self
        case .less: return .greater
        case .lessOrEqual: return .greaterOrEqual
        case .greater: return .less
        case .greaterOrEqual: return .lessOrEqual
        }
    }
}

/// A whole answer.
indirect enum MathValue: Sendable {
    /// A number or formula; `percent` when written with a % sign.
    case expression(MathExpr, percent: Bool)
    /// a op b (op c ...): an equation, inequality or chain.
    case relation([MathExpr], [MathRelation])
    /// `\{a, b\}` or a bare list "a, b": order does not matter.
    case set([MathValue])
    /// `(a, b, ...)`: order matters. A pair may also be an open interval.
    case tuple([MathValue])
    case interval(MathExpr, MathExpr, lowerOpen: Bool, upperOpen: Bool)
    case union([MathValue])
    case matrix([[MathExpr]])
    /// A word written as text: `\text{Monday}`, `\text{(A)}`.
    case text(String)
}
