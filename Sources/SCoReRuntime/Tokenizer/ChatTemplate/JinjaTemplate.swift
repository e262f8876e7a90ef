/// A compiled Jinja template: the subset of jinja2 that Hugging Face chat
/// templates use, rendered with the settings transformers uses
/// (`trim_blocks`, `lstrip_blocks`, sandboxed and immutable, default
/// `Undefined`, loop controls, transformers' `tojson`, `raise_exception`,
/// `strftime_now` and `namespace`).
///
/// Parsing rejects malformed text, unknown filters and tests, and constructs
/// outside the subset, with the line and column. Rendering is bounded by
/// `JinjaLimits` (steps, output size, nesting, recursion).
///
/// Immutable after init: one template may render on many threads at once.
public final class JinjaTemplate: @unchecked Sendable {
    public let source: String
    public let limits: JinjaLimits
    let lexer: JinjaLexer
    let body: [Stmt]

    public init(_ source: String, limits: JinjaLimits = JinjaLimits()) throws {
        guard source.utf8.count <= limits.maxTemplateBytes else {
            throw JinjaError(.limit, "template is \(source.utf8.count) bytes, more than the limit of \(limits.maxTemplateBytes)")
        }
        self.source = source
        self.limits = limits
        lexer = try JinjaLexer.tokenize(source)
        var parser = JinjaParser(lexer: lexer, limits: limits)
        (body, _) = try parser.parseBody(until: [], owner: nil)
    }

    /// Renders with the given variables (converted from JSON as Python's
    /// `json.loads` would give them to jinja2). `now` feeds `strftime_now`.
    public func render(_ variables: [String: JSON],
                       now: @escaping @Sendable () -> JinjaDateTime = { JinjaDateTime.now() }) throws -> String {
        var values: [String: JinjaValue] = [:]
        for (k, v) in variables { values[k] = JinjaJSON.value(from: v) }
        return try render(values: values, now: now)
    }

    func render(values: [String: JinjaValue], now: @escaping @Sendable () -> JinjaDateTime) throws -> String {
        let renderer = JinjaRenderer(lexer: lexer, limits: limits, variables: values, now: now)
        return try renderer.render(body)
    }
}
