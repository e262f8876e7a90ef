/// The syntax tree of a parsed template. Every node keeps the byte offset
/// of its first token so runtime errors can name a line and column.

struct Expr {
    indirect enum Kind {
        case literal(JinjaValue)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(Expr, Expr)])
        /// `x.name`
        case attribute(Expr, String)
        /// `x[key]`
        case index(Expr, Expr)
        /// `x[start:stop:step]`
        case slice(Expr, Expr?, Expr?, Expr?)
        case call(Expr, Arguments)
        case filter(Expr, String, Arguments)
        case test(Expr, String, Arguments, negated: Bool)
        case not(Expr)
        case negate(Expr)
        case plus(Expr)
        case binary(BinaryOp, Expr, Expr)
        /// `a < b <= c` and `in` / `not in`, chained as in Python.
        case compare(Expr, [(CompareOp, Expr)])
        case and(Expr, Expr)
        case or(Expr, Expr)
        /// `a if cond else b` (`else` optional: undefined when false).
        case conditional(condition: Expr, then: Expr, otherwise: Expr?)
    }

    let kind: Kind
    let offset: Int
    /// Height of this subtree; the parser bounds it so that evaluating or
    /// freeing the tree cannot exhaust the stack.
    let depth: Int
}

struct Arguments {
    var positional: [Expr] = []
    var keyword: [(String, Expr)] = []
}

enum BinaryOp: String {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
    case concat = "~"
}

enum CompareOp: String {
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
    case `in` = "in", notIn = "not in"
}

/// Where `{% set %}` stores its value.
enum AssignTarget {
    case name(String)
    case names([String])
    /// `ns.attr` on a namespace
    case attribute(String, String)
}

struct Stmt {
    indirect enum Kind {
        case text(String)
        case print(Expr)
        case `if`([(Expr, [Stmt])], otherwise: [Stmt]?)
        case `for`(targets: [String], iterable: Expr, condition: Expr?, body: [Stmt], otherwise: [Stmt]?)
        case set(AssignTarget, Expr)
        /// `{% set x %}...{% endset %}`, with an optional filter chain.
        case setBlock(String, body: [Stmt], filters: [(String, Arguments)])
        case macro(name: String, parameters: [(String, Expr?)], body: [Stmt])
        /// `{% filter f %}...{% endfilter %}`
        case filterBlock(filters: [(String, Arguments)], body: [Stmt])
        /// `{% with a = 1 %}...{% endwith %}`
        case with([(String, Expr)], body: [Stmt])
        case `break`
        case `continue`
    }

    let kind: Kind
    let offset: Int
}
