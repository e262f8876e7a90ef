import Testing
import SCoReRuntime

/// Jinja semantics against transformers' jinja2 environment (the
/// "semantics" section of Tests/Fixtures/chat/expected.json), and hostile
/// templates: every one is an error or a correct result, never a crash or hang.
@Suite struct JinjaSemanticsTests {
    static let cases = ChatFixtures.cases("semantics")
    static let names = cases.compactMap { $0["name"]?.stringValue }

    /// Syntax errors where our wording differs from jinja2's lexer internals;
    /// the kind must still match.
    static let wordingMayDiffer: Set<String> = ["err_unterminated_string", "err_extends"]

    func variables(_ c: JSON) -> [String: JSON] {
        var vars: [String: JSON] = [
            "messages": c["messages"] ?? .array([]),
            "add_generation_prompt": c["add_generation_prompt"] ?? .bool(false),
            "bos_token": .string("<s>"), "eos_token": .string("</s>"), "unk_token": .string("<unk>"),
            "tools": .null, "documents": .null,
        ]
        if let kwargs = c["kwargs"]?.objectValue { for k in kwargs.keys { vars[k] = kwargs[k]! } }
        return vars
    }

    @Test(arguments: names)
    func matchesJinja2(name: String) throws {
        let c = try #require(Self.cases.first { $0["name"]?.stringValue == name })
        let source = c["template"]?.stringValue ?? ""
        let now = ChatFixtures.now
        do {
            let template = try JinjaTemplate(source)
            let text = try template.render(variables(c), now: { now })
            if let expected = c["expected"]?.stringValue {
                #expect(Array(text.utf8) == Array(expected.utf8), "\(name)\n--- got ---\n\(text)\n--- expected ---\n\(expected)")
            } else {
                Issue.record("\(name): rendered \(text), but jinja2 raised \(c["error"]?["type"]?.stringValue ?? ""): \(c["error"]?["message"]?.stringValue ?? "")")
            }
        } catch let e as JinjaError {
            guard let type = c["error"]?["type"]?.stringValue, let message = c["error"]?["message"]?.stringValue else {
                Issue.record("\(name): \(e)")
                return
            }
            if name == "err_extends" {
                #expect(e.kind == .unsupported)
            } else {
                #expect(e.kind.rawValue == type, "\(name): \(e)")
                if !Self.wordingMayDiffer.contains(name) { #expect(e.message == message, "\(name): \(e)") }
            }
        }
    }
}

@Suite struct JinjaBadInputTests {
    func render(_ source: String, _ vars: [String: JSON] = [:], limits: JinjaLimits = JinjaLimits()) throws -> String {
        try JinjaTemplate(source, limits: limits).render(vars)
    }

    func expectError(_ kind: JinjaError.Kind, _ source: String, contains text: String = "", limits: JinjaLimits = JinjaLimits(),
                     sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try render(source, limits: limits)
            Issue.record("no error for \(source.prefix(60))", sourceLocation: sourceLocation)
        } catch let e as JinjaError {
            #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
            #expect(text.isEmpty || e.message.contains(text), "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func unterminatedTagsNameTheirPosition() {
        for source in ["{{ x", "{% if true %}", "{% for x in y %}a", "a\n  {# c", "{{ 'abc }}", "{% if x", "{% raw %}x", "{{ (1 }}"] {
            do {
                _ = try render(source)
                Issue.record("no error for \(source)")
            } catch let e as JinjaError {
                #expect(e.kind == .syntax, "\(source): \(e)")
                #expect(e.line != nil && e.column != nil, "\(source): \(e)")
            } catch {
                Issue.record("\(error)")
            }
        }
        do {
            _ = try render("line one\n  {{ x ")
        } catch let e as JinjaError {
            #expect(e.line == 2 && e.column == 3, "\(e)")
        } catch {}
    }

    @Test func unknownAndUnsupportedConstructsAreNamed() {
        expectError(.assertion, "{{ x | frobnicate }}", contains: "frobnicate")
        expectError(.assertion, "{{ x is frobnicated }}", contains: "frobnicated")
        expectError(.unsupported, "{{ x | groupby('a') }}", contains: "groupby")
        expectError(.unsupported, "{% include 'x.html' %}", contains: "include")
        expectError(.unsupported, "{% for x in y recursive %}{% endfor %}", contains: "recursive")
        expectError(.unsupported, "{{ 'a %s' % 1 }}", contains: "formatting")
        expectError(.syntax, "{% frobnicate %}", contains: "frobnicate")
        expectError(.syntax, "{% break %}", contains: "outside of a loop")
    }

    @Test func endlessLoopsAreBounded() {
        var small = JinjaLimits()
        small.maxSteps = 100_000
        expectError(.limit, "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
                    contains: "evaluation steps", limits: small)
        expectError(.limit, "{% for i in range(10**9) %}x{% endfor %}", contains: "Range too big")
        expectError(.limit, "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", contains: "nested deeper")
        expectError(.limit, "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
                    contains: "bytes")
        expectError(.limit, "{{ 'x' * 10000000000 }}", contains: "bytes")
        expectError(.limit, "{{ [1] * 10000000000 }}", contains: "items")
        var tinyOutput = JinjaLimits()
        tinyOutput.maxOutputBytes = 1000
        expectError(.limit, "{% for i in range(10000) %}abcdef{% endfor %}", contains: "output", limits: tinyOutput)
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let n = 100_000
        expectError(.limit, "{{ " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n) + " }}")
        expectError(.limit, "{{ " + String(repeating: "[", count: n) + String(repeating: "]", count: n) + " }}")
        expectError(.limit, "{{ " + String(repeating: "-", count: n) + "1 }}")
        expectError(.limit, "{{ " + String(repeating: "not ", count: n) + "1 }}")
        expectError(.limit, "{{ x" + String(repeating: " | trim", count: n) + " }}")
        expectError(.limit, "{{ 1" + String(repeating: " + 1", count: n) + " }}")
        expectError(.limit, String(repeating: "{% if true %}", count: n) + String(repeating: "{% endif %}", count: n))
        expectError(.limit, "{% set ns = namespace(v=[]) %}{% for i in range(5000) %}{% set ns.v = [ns.v] %}{% endfor %}{{ ns.v }}",
                    contains: "nested deeper")
    }

    @Test func hugeInputsRenderCorrectly() throws {
        let big = String(repeating: "안녕 world {{ }} ", count: 700_000)  // ~11 MB
        #expect(big.utf8.count > 10_000_000)
        let chat = try ChatTemplate.load(directory: ChatFixtures.root + "/llama-3.1-instruct")
        let text = try chat.render(messages: [ChatMessage(role: "user", content: "  " + big + "\n")], addGenerationPrompt: true,
                                   extra: ["date_string": .string("01 Jan 2025")])
        let expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
            + String(big.dropLast()) + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        #expect(text == expected)

        let bigTemplate = String(repeating: "plain text {# comment #}\n", count: 450_000)  // ~11 MB
        let rendered = try render(bigTemplate)
        #expect(rendered.utf8.count == 11 * 450_000)

        var limits = JinjaLimits()
        limits.maxTemplateBytes = 1 << 20
        expectError(.limit, bigTemplate, contains: "bytes", limits: limits)
    }

    @Test func undefinedFollowsJinja2Defaults() throws {
        #expect(try render("[{{ missing }}][{{ missing | length }}][{{ missing is defined }}][{% for x in missing %}x{% endfor %}]") == "[][0][False][]")
        #expect(try render("{{ d.missing }}|{{ d['missing'] }}", ["d": .object(JSONObject())]) == "|")
        expectError(.undefined, "{{ missing.attr }}", contains: "'missing' is undefined")
        expectError(.undefined, "{{ missing + 1 }}", contains: "'missing' is undefined")
        expectError(.undefined, "{{ missing() }}", contains: "'missing' is undefined")
    }

    @Test func malformedChatTemplatesAreScoreErrors() {
        #expect(throws: ScoreError.self) { try ChatTemplate(source: "{% for m in messages %}", bosToken: nil, eosToken: nil) }
        #expect(throws: ScoreError.self) { try ChatTemplate(source: "{{ m | nosuch }}", bosToken: nil, eosToken: nil) }
        do {
            _ = try ChatTemplate(source: "{% include 'x' %}", bosToken: nil, eosToken: nil)
            Issue.record("no error")
        } catch let e as ScoreError {
            #expect(e.statusCode == 4 && e.message.contains("include") && e.message.contains("line 1"))
        } catch {
            Issue.record("\(error)")
        }
    }
}
