/// A failure while parsing or rendering a Jinja template.
///
/// `kind` mirrors the exception class Python's jinja2 (as configured by
/// transformers) would raise, and `message` its text, so that a caller can
/// show the same words a `transformers` user would see. For example a
/// template's `raise_exception("Roles must alternate")` gives
/// `kind == .raised` and `message == "Roles must alternate"`.
public struct JinjaError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// `raise_exception(message)` in the template (jinja2 `TemplateError`).
        case raised = "TemplateError"
        /// Malformed template text (`TemplateSyntaxError`).
        case syntax = "TemplateSyntaxError"
        /// Unknown filter or test (`TemplateAssertionError`).
        case assertion = "TemplateAssertionError"
        /// Use of an undefined value (`UndefinedError`).
        case undefined = "UndefinedError"
        /// Operation on values of the wrong type (`TypeError`).
        case type = "TypeError"
        /// Bad value, e.g. `int('x', 99)` (`ValueError`).
        case value = "ValueError"
        case zeroDivision = "ZeroDivisionError"
        /// Forbidden by the sandbox, e.g. `list.append` (`SecurityError`).
        case security = "SecurityError"
        /// A Jinja feature this interpreter does not implement.
        case unsupported = "Unsupported"
        /// Output size, evaluation steps, nesting depth or recursion exceeded.
        case limit = "LimitExceeded"
    }

    public let kind: Kind
    public let message: String
    /// 1-based line and column in the template source, when known.
    public var line: Int?
    public var column: Int?

    public init(_ kind: Kind, _ message: String, line: Int? = nil, column: Int? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        if let line, let column { return "\(kind.rawValue) at line \(line), column \(column): \(message)" }
        return "\(kind.rawValue): \(message)"
    }

    static func type(_ m: String) -> JinjaError { JinjaError(.type, m) }
    static func unsupported(_ m: String) -> JinjaError { JinjaError(.unsupported, m) }
}

/// Bounds that keep a hostile or broken template from exhausting time,
/// memory or stack. The defaults leave real chat templates (a few hundred
/// steps per message) and 10 MB messages far inside the limits.
public struct JinjaLimits: Sendable {
    /// Largest template source accepted, in bytes.
    public var maxTemplateBytes = 16 << 20
    /// Largest rendered output (and largest string built), in bytes.
    public var maxOutputBytes = 256 << 20
    /// Statements executed plus expressions evaluated.
    public var maxSteps = 50_000_000
    /// Nesting of blocks and expressions in the source.
    public var maxSyntaxDepth = 100
    /// Nesting of lists/dicts a template may build.
    public var maxValueDepth = 600
    /// Nested macro calls.
    public var maxCallDepth = 40
    /// Elements of one `range()`.
    public var maxRangeLength = 10_000_000

    public init() {}
}
