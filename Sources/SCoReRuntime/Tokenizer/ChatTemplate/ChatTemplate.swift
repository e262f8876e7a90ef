/// One chat turn.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Renders a conversation into the prompt text a model was trained on,
/// byte for byte what `transformers`' `tokenizer.apply_chat_template(messages,
/// tokenize=False, add_generation_prompt=...)` returns.
///
/// The template sees what transformers passes: `messages` (each a dict;
/// keys whose value is null are dropped, as transformers does), `tools`
/// and `documents` (None unless given), `add_generation_prompt`, the special
/// tokens the tokenizer defines (`bos_token`, `eos_token`, `unk_token`,
/// `pad_token`, `sep_token`, `cls_token`, `mask_token`; undefined when the
/// model has none), then any `extra` variables (e.g. `date_string`), which
/// override special tokens of the same name. `strftime_now` reads the clock
/// passed to `render` (the local time by default).
///
/// Models without a chat template use ChatML, transformers' historical
/// default:
///
///     <|im_start|>{role}\n{content}<|im_end|>\n      (for every message)
///     <|im_start|>assistant\n                        (if addGenerationPrompt)
///
/// Errors are `ScoreError`s: `.format` for a template that does not parse,
/// `.unsupported` for a construct outside the supported Jinja subset, and
/// `.invalidArgument` when rendering fails — in particular when the template
/// calls `raise_exception(msg)` (e.g. roles that do not alternate), whose
/// message is "chat template error: " + msg.
///
/// Immutable: safe to render from many threads at once.
public final class ChatTemplate: @unchecked Sendable {
    /// The ChatML fallback as a template (see the type's documentation).
    public static let fallbackSource =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
        + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

    /// Special-token names transformers passes to templates.
    public static let specialTokenNames = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]

    /// The model's template, or nil when it has none (the fallback is used).
    public let source: String?
    /// Special tokens by name ("bos_token" -> "<s>").
    public let specialTokens: [String: String]
    private let template: JinjaTemplate

    public var bosToken: String? { specialTokens["bos_token"] }
    public var eosToken: String? { specialTokens["eos_token"] }
    public var usesFallback: Bool { source == nil }

    /// - Parameters:
    ///   - source: the Jinja text of `chat_template`, or nil for the fallback.
    ///   - bosToken, eosToken: the tokenizer's tokens, nil if it has none.
    ///   - otherTokens: further special tokens by name ("unk_token": "<unk>").
    public init(source: String?, bosToken: String?, eosToken: String?, otherTokens: [String: String] = [:],
                limits: JinjaLimits = JinjaLimits()) throws {
        var tokens = otherTokens
        tokens["bos_token"] = bosToken
        tokens["eos_token"] = eosToken
        self.source = source
        specialTokens = tokens
        do {
            template = try JinjaTemplate(source ?? Self.fallbackSource, limits: limits)
        } catch let e as JinjaError {
            throw Self.scoreError(e)
        }
    }

    /// From a parsed `tokenizer_config.json`. `chat_template` may be a string
    /// or a list of `{"name", "template"}` objects, of which `templateName`
    /// (default "default") is used. `overrideSource` (the text of a
    /// `chat_template.jinja` file) takes precedence, as in transformers.
    public convenience init(tokenizerConfig config: JSON, templateName: String = "default", overrideSource: String? = nil,
                            context: String = "tokenizer_config.json") throws {
        guard config.objectValue != nil else { throw ScoreError.format("\(context): expected a JSON object") }
        var source = overrideSource
        if source == nil, let t = config["chat_template"] {
            switch t {
            case .null: break
            case .string(let s): source = s
            case .array(let entries):
                var names: [String] = []
                for entry in entries {
                    guard let name = entry["name"]?.stringValue, let text = entry["template"]?.stringValue else {
                        throw ScoreError.format("\(context): chat_template list entries need string 'name' and 'template'")
                    }
                    names.append(name)
                    if name == templateName && source == nil { source = text }
                }
                if source == nil {
                    throw ScoreError.invalidArgument("\(context): chat_template has no template named '\(templateName)' (it has: \(names.joined(separator: ", ")))")
                }
            default:
                throw ScoreError.format("\(context): chat_template must be a string or a list of {name, template}")
            }
        }
        var tokens: [String: String] = [:]
        for name in Self.specialTokenNames {
            switch config[name] {
            case .string(let s)?: tokens[name] = s
            case .object(let o)?: if let s = o["content"]?.stringValue { tokens[name] = s }
            default: break
            }
        }
        let bos = tokens.removeValue(forKey: "bos_token")
        let eos = tokens.removeValue(forKey: "eos_token")
        try self.init(source: source, bosToken: bos, eosToken: eos, otherTokens: tokens)
    }

    /// From a model directory: `tokenizer_config.json` (required), with a
    /// `chat_template.jinja` file overriding its `chat_template`, and
    /// `special_tokens_map.json` filling in special tokens it lacks.
    public static func load(directory: String, templateName: String = "default") throws -> ChatTemplate {
        guard Files.isDirectory(directory) else { throw ScoreError.io("\(directory): no such directory") }
        let configPath = Files.join(directory, "tokenizer_config.json")
        guard Files.exists(configPath) else { throw ScoreError.io("\(configPath): not found (needed for the chat template)") }
        var config = try Files.readJSON(configPath)
        let mapPath = Files.join(directory, "special_tokens_map.json")
        if Files.exists(mapPath), case .object(let map) = try Files.readJSON(mapPath), case .object(var merged) = config {
            for name in specialTokenNames where merged[name] == nil || merged[name] == .null {
                if let v = map[name] { merged.set(name, v) }
            }
            config = .object(merged)
        }
        var override: String? = nil
        let jinjaPath = Files.join(directory, "chat_template.jinja")
        if Files.exists(jinjaPath) {
            let bytes = try Files.readAll(jinjaPath, limit: JinjaLimits().maxTemplateBytes)
            guard let text = String(validating: bytes, as: UTF8.self) else { throw ScoreError.format("\(jinjaPath): not valid UTF-8") }
            override = text
        }
        return try ChatTemplate(tokenizerConfig: config, templateName: templateName, overrideSource: override, context: configPath)
    }

    /// Renders `{role, content}` messages.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool, extra: [String: JSON] = [:],
                       now: @escaping @Sendable () -> JinjaDateTime = { JinjaDateTime.now() }) throws -> String {
        let conversation = messages.map { m -> JSON in
            var o = JSONObject()
            o.set("role", .string(m.role))
            o.set("content", .string(m.content))
            return .object(o)
        }
        return try render(conversation: conversation, addGenerationPrompt: addGenerationPrompt, extra: extra, now: now)
    }

    /// Renders messages given as JSON objects (which may carry `tool_calls`,
    /// `tool_call_id`, structured content, ...). `extra` may include `tools`
    /// and `documents` (lists), and any variable the template reads.
    public func render(conversation: [JSON], addGenerationPrompt: Bool, extra: [String: JSON] = [:],
                       now: @escaping @Sendable () -> JinjaDateTime = { JinjaDateTime.now() }) throws -> String {
        guard !conversation.isEmpty else {
            throw ScoreError.invalidArgument("Cannot apply chat template to an empty conversation. Provide at least one message.")
        }
        var messages: [JinjaValue] = []
        for (i, m) in conversation.enumerated() {
            guard case .object(let o) = m else { throw ScoreError.invalidArgument("message \(i) is not a JSON object") }
            messages.append(Self.normalize(o))
        }
        var vars: [String: JinjaValue] = [:]
        for (name, token) in specialTokens { vars[name] = .string(token) }
        for (k, v) in extra {
            guard k != "messages" && k != "add_generation_prompt" else {
                throw ScoreError.invalidArgument("extra variable '\(k)' would replace the one the renderer sets")
            }
            vars[k] = JinjaJSON.value(from: v)
        }
        vars["messages"] = .makeList(messages)
        vars["add_generation_prompt"] = .bool(addGenerationPrompt)
        if vars["tools"] == nil { vars["tools"] = JinjaValue.none }
        if vars["documents"] == nil { vars["documents"] = JinjaValue.none }
        do {
            return try template.render(values: vars, now: now)
        } catch let e as JinjaError {
            throw Self.scoreError(e)
        }
    }

    /// transformers drops null-valued keys and copies reasoning under the
    /// names templates read (`thinking`, `reasoning_content`).
    static func normalize(_ o: JSONObject) -> JinjaValue {
        let d = JinjaDict()
        let reasoning = ["reasoning_content", "thinking", "reasoning"].lazy.compactMap { k -> JSON? in
            guard let v = o[k], v != .null else { return nil }
            return v
        }.first
        if let reasoning { d.setString("thinking", JinjaJSON.value(from: reasoning)) }
        for k in o.keys {
            guard let v = o[k], v != .null else { continue }
            if let reasoning, k == "thinking" || k == "reasoning_content" {
                d.setString(k, JinjaJSON.value(from: reasoning))
            } else {
                d.setString(k, JinjaJSON.value(from: v))
            }
        }
        if let reasoning { d.setString("reasoning_content", JinjaJSON.value(from: reasoning)) }
        return .dict(d)
    }

    static func scoreError(_ e: JinjaError) -> ScoreError {
        let location = e.line.map { " at line \($0), column \(e.column ?? 0)" } ?? ""
        switch e.kind {
        case .raised: return .invalidArgument("chat template error: \(e.message)")
        case .syntax, .assertion: return .format("chat template\(location): \(e.message)")
        case .unsupported: return .unsupported("chat template\(location): \(e.message)")
        default: return .invalidArgument("chat template\(location): \(e.kind.rawValue): \(e.message)")
        }
    }
}
