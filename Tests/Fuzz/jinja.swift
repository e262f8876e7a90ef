// Jinja chat templates (Tokenizer/ChatTemplate/): an input starting with '{'
// is a tokenizer_config.json (chat_template string or list, special tokens),
// anything else is the template source. Rendered over a fixed conversation
// with tools, with tighter step/output limits than the default so that a
// bounded but long render is not reported as a hang.
@testable import SCoReRuntime

let conversation: [JSON] = {
    let text = """
    [{"role": "system", "content": "You are terse."},
     {"role": "user", "content": "What is 2+2?"},
     {"role": "assistant", "content": "4", "tool_calls": [{"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}]},
     {"role": "tool", "content": "4", "tool_call_id": "abc123456"},
     {"role": "user", "content": [{"type": "text", "text": "and 3+3?"}]}]
    """
    return try! JSON.parse(text, context: "conversation").arrayValue!
}()
let extra: [String: JSON] = {
    let object = try! JSON.parse("""
        {"tools": [{"type": "function", "function": {"name": "add", "description": "adds",
          "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}],
         "documents": [{"title": "t", "text": "d"}], "date_string": "26 Jul 2024"}
        """, context: "extra").objectValue!
    var d: [String: JSON] = [:]
    for k in object.keys { d[k] = object[k] }
    return d
}()

var limits: JinjaLimits {
    var l = JinjaLimits()
    l.maxSteps = 2_000_000
    l.maxOutputBytes = 16 << 20
    l.maxRangeLength = 1_000_000
    return l
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJinja(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    var template: ChatTemplate?
    if input.first == UInt8(ascii: "{") {
        guard let config = try? JSON.parse(input, context: "fuzz"),
              let t = try? ChatTemplate(tokenizerConfig: config) else { return 0 }
        guard let source = t.source else { return 0 }
        template = try? ChatTemplate(source: source, bosToken: t.specialTokens["bos_token"], eosToken: t.specialTokens["eos_token"],
                                     limits: limits)
    } else {
        template = try? ChatTemplate(source: Fuzz.text(input), bosToken: "<s>", eosToken: "</s>",
                                     otherTokens: ["unk_token": "<unk>"], limits: limits)
    }
    guard let template else { return 0 }
    let now: @Sendable () -> JinjaDateTime = { JinjaDateTime(year: 2024, month: 7, day: 26) }
    for addPrompt in [false, true] {
        _ = try? template.render(conversation: conversation, addGenerationPrompt: addPrompt, extra: extra, now: now)
    }
    _ = try? template.render(conversation: Array(conversation.prefix(2)), addGenerationPrompt: true, now: now)
    return 0
}
