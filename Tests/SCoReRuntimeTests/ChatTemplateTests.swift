import Testing
import SCoReRuntime

/// The fixtures written by tools/make_chat_fixtures.py from transformers.
enum ChatFixtures {
    static let root: String = {
        let file = #filePath
        let testsDir = file.split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/")
        return testsDir + "/Fixtures/chat"
    }()

    static let expected: JSON = {
        do { return try Files.readJSON(root + "/expected.json") } catch { return .null }
    }()

    static let templates = [
        "qwen2.5-instruct", "llama-3.1-instruct", "llama-3.2-instruct", "smollm2-instruct",
        "mistral-7b-instruct-v0.1", "mistral-7b-instruct-v0.3", "gemma-2-it",
    ]

    /// The clock transformers was pinned to ("2024-09-05T14:03:07").
    static let now: JinjaDateTime = {
        let text = expected["now"]?.stringValue ?? "2000-01-01T00:00:00"
        let parts = text.split(whereSeparator: { $0 == "-" || $0 == "T" || $0 == ":" }).compactMap { Int($0) }
        guard parts.count == 6 else { return JinjaDateTime(year: 2000, month: 1, day: 1) }
        return JinjaDateTime(year: parts[0], month: parts[1], day: parts[2], hour: parts[3], minute: parts[4], second: parts[5])
    }()

    static func cases(_ section: String) -> [JSON] { expected[section]?.arrayValue ?? [] }
}

@Suite struct ChatTemplateTests {
    /// Every rendering of one real model template, byte for byte, and the
    /// same exception text where transformers raises.
    @Test(arguments: ChatFixtures.templates)
    func matchesTransformers(template name: String) throws {
        let chat = try ChatTemplate.load(directory: ChatFixtures.root + "/" + name)
        #expect(!chat.usesFallback)
        let cases = ChatFixtures.cases("cases").filter { $0["template"]?.stringValue == name }
        #expect(cases.count >= 20)
        var passed = 0
        let now = ChatFixtures.now
        for c in cases {
            let label = "\(name)/\(c["conversation"]?.stringValue ?? "?") agp=\(c["add_generation_prompt"] == .bool(true))"
            var extra: [String: JSON] = [:]
            if let kwargs = c["kwargs"]?.objectValue { for k in kwargs.keys { extra[k] = kwargs[k]! } }
            if let tools = c["tools"] { extra["tools"] = tools }
            let conversation = c["messages"]?.arrayValue ?? []
            let agp = c["add_generation_prompt"]?.boolValue ?? false
            do {
                let text = try chat.render(conversation: conversation, addGenerationPrompt: agp, extra: extra, now: { now })
                if let expected = c["expected"]?.stringValue {
                    #expect(Array(text.utf8) == Array(expected.utf8), "\(label)\n--- got ---\n\(text)\n--- expected ---\n\(expected)")
                    if Array(text.utf8) == Array(expected.utf8) { passed += 1 }
                } else {
                    Issue.record("\(label): rendered, but transformers raised \(c["error"]?["message"]?.stringValue ?? "")")
                }
            } catch let e as ScoreError {
                if let message = c["error"]?["message"]?.stringValue {
                    #expect(e == .invalidArgument("chat template error: " + message), "\(label)")
                    if e == .invalidArgument("chat template error: " + message) { passed += 1 }
                } else {
                    Issue.record("\(label): \(e.message)")
                }
            }
        }
        print("chat template \(name): \(passed)/\(cases.count) renderings match transformers")
    }

    @Test func plainMessagesMatchJSONMessages() throws {
        let chat = try ChatTemplate.load(directory: ChatFixtures.root + "/qwen2.5-instruct")
        let text = try chat.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        #expect(text == "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func specialTokensComeFromTheConfig() throws {
        let chat = try ChatTemplate.load(directory: ChatFixtures.root + "/mistral-7b-instruct-v0.1")
        #expect(chat.bosToken == "<s>" && chat.eosToken == "</s>" && chat.specialTokens["unk_token"] == "<unk>")
        let qwen = try ChatTemplate.load(directory: ChatFixtures.root + "/qwen2.5-instruct")
        #expect(qwen.bosToken == nil && qwen.eosToken == "<|im_end|>")
    }

    @Test func fallbackIsChatML() throws {
        let chat = try ChatTemplate(tokenizerConfig: try JSON.parse(#"{"eos_token": "</s>"}"#, context: "t"))
        #expect(chat.usesFallback)
        let text = try chat.render(messages: [ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "U")],
                                   addGenerationPrompt: true)
        #expect(text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n")
        let noPrompt = try chat.render(messages: [ChatMessage(role: "user", content: "U")], addGenerationPrompt: false)
        #expect(noPrompt == "<|im_start|>user\nU<|im_end|>\n")
    }

    @Test func namedTemplateListPicksDefault() throws {
        let config = try JSON.parse(#"""
        {"bos_token": {"content": "<B>", "lstrip": false}, "chat_template": [
          {"name": "tool_use", "template": "TOOLS"},
          {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}"}]}
        """#, context: "t")
        let chat = try ChatTemplate(tokenizerConfig: config)
        #expect(try chat.render(messages: [ChatMessage(role: "user", content: "x")], addGenerationPrompt: false) == "<B>x")
        let tools = try ChatTemplate(tokenizerConfig: config, templateName: "tool_use")
        #expect(try tools.render(messages: [ChatMessage(role: "user", content: "x")], addGenerationPrompt: false) == "TOOLS")
        #expect(throws: ScoreError.self) { try ChatTemplate(tokenizerConfig: config, templateName: "nope") }
    }

    @Test func emptyConversationIsAnError() throws {
        let chat = try ChatTemplate.load(directory: ChatFixtures.root + "/smollm2-instruct")
        #expect(throws: ScoreError.self) { try chat.render(messages: [], addGenerationPrompt: true) }
    }

    @Test func strftimeUsesTheInjectedClock() throws {
        let chat = try ChatTemplate.load(directory: ChatFixtures.root + "/llama-3.2-instruct")
        let text = try chat.render(messages: [ChatMessage(role: "user", content: "x")], addGenerationPrompt: true,
                                   now: { JinjaDateTime(year: 2025, month: 2, day: 28, hour: 23) })
        #expect(text.contains("Today Date: 28 Feb 2025\n"))
    }
}
