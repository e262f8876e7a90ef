import CScoreABI
import SCoReRuntime

// score_chat_render / score_chat_render_dir: chat templates from C.

private func messages(_ roles: UnsafePointer<UnsafePointer<CChar>?>?, _ contents: UnsafePointer<UnsafePointer<CChar>?>?,
                      _ count: Int) throws -> [ChatMessage] {
    guard count > 0 else { throw ScoreError.invalidArgument("n_messages is 0") }
    guard count <= 1 << 24 else { throw ScoreError.invalidArgument("n_messages \(count) is absurdly large") }
    guard let roles else { throw ScoreError.invalidArgument("roles is NULL") }
    guard let contents else { throw ScoreError.invalidArgument("contents is NULL") }
    return try (0..<count).map { i in
        ChatMessage(role: try String(argument: roles[i], name: "roles[\(i)]"),
                    content: try String(argument: contents[i], name: "contents[\(i)]"))
    }
}

private func extraVariables(_ text: UnsafePointer<CChar>?) throws -> [String: JSON] {
    guard let text else { return [:] }
    let json = try JSON.parse(try String(argument: text, name: "extra_json"), context: "extra_json")
    guard let object = json.objectValue else { throw ScoreError.invalidArgument("extra_json must be a JSON object") }
    var out: [String: JSON] = [:]
    for k in object.keys { out[k] = object[k]! }
    return out
}

/// Writes `text` + NUL into (buf, cap, needed).
private func writeText(_ text: String, _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int, _ needed: UnsafeMutablePointer<Int>?) throws {
    let bytes = Array(text.utf8)
    guard try checkBuffer(buf, capacity: cap, required: bytes.count + 1, needed: needed, what: "rendered chat") else { return }
    bytes.withUnsafeBufferPointer { src in
        if let base = src.baseAddress { UnsafeMutableRawPointer(buf!).copyMemory(from: base, byteCount: src.count) }
    }
    buf![bytes.count] = 0
}

@c @implementation
public func score_chat_render(_ templateSource: UnsafePointer<CChar>?, _ bosToken: UnsafePointer<CChar>?,
                              _ eosToken: UnsafePointer<CChar>?, _ roles: UnsafePointer<UnsafePointer<CChar>?>?,
                              _ contents: UnsafePointer<UnsafePointer<CChar>?>?, _ nMessages: Int,
                              _ addGenerationPrompt: Bool, _ extraJSON: UnsafePointer<CChar>?,
                              _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int,
                              _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_chat_render") {
        let source = try templateSource.map { try String(argument: $0, name: "template_source") }
        let bos = try bosToken.map { try String(argument: $0, name: "bos_token") }
        let eos = try eosToken.map { try String(argument: $0, name: "eos_token") }
        let chat = try ChatTemplate(source: source, bosToken: bos, eosToken: eos)
        let text = try chat.render(messages: try messages(roles, contents, nMessages), addGenerationPrompt: addGenerationPrompt,
                                   extra: try extraVariables(extraJSON))
        try writeText(text, buf, cap, needed)
    }
}

@c @implementation
public func score_chat_render_dir(_ modelDir: UnsafePointer<CChar>?, _ roles: UnsafePointer<UnsafePointer<CChar>?>?,
                                  _ contents: UnsafePointer<UnsafePointer<CChar>?>?, _ nMessages: Int,
                                  _ addGenerationPrompt: Bool, _ extraJSON: UnsafePointer<CChar>?,
                                  _ buf: UnsafeMutablePointer<CChar>?, _ cap: Int,
                                  _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_chat_render_dir") {
        let chat = try ChatTemplate.load(directory: try String(argument: modelDir, name: "model_dir"))
        let text = try chat.render(messages: try messages(roles, contents, nMessages), addGenerationPrompt: addGenerationPrompt,
                                   extra: try extraVariables(extraJSON))
        try writeText(text, buf, cap, needed)
    }
}
