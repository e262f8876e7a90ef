import SCoReRuntime

enum ChatTemplateCommand {
    static let help = """
    usage: score-cli chat-template DIR --messages FILE [--no-generation-prompt] [--extra FILE]

    Renders the conversation in FILE (a JSON array of {"role", "content", ...}
    objects) with the chat template of the model in DIR (tokenizer_config.json,
    or chat_template.jinja), exactly as transformers' apply_chat_template
    would, and prints the text with nothing added. Models without a template
    use ChatML. --extra FILE holds a JSON object of further template
    variables, e.g. {"date_string": "26 Jul 2024", "tools": [...]}.
    """

    static let valueOptions: Set<String> = ["messages", "extra"]
    static let flagOptions: Set<String> = ["help", "no-generation-prompt"]

    static func run(_ args: Arguments) throws {
        guard args.positional.count == 1 else { throw UsageError("chat-template takes exactly one model directory") }
        guard let messagesPath = args.options["messages"] else { throw UsageError("chat-template needs --messages FILE (a JSON array of messages)") }
        guard let conversation = try Files.readJSON(messagesPath).arrayValue else {
            throw ScoreError.format("\(messagesPath): expected a JSON array of messages")
        }
        var extra: [String: JSON] = [:]
        if let extraPath = args.options["extra"] {
            guard let object = try Files.readJSON(extraPath).objectValue else { throw ScoreError.format("\(extraPath): expected a JSON object") }
            for k in object.keys { extra[k] = object[k]! }
        }
        let chat = try ChatTemplate.load(directory: args.positional[0])
        let text = try chat.render(conversation: conversation, addGenerationPrompt: !args.flags.contains("no-generation-prompt"), extra: extra)
        print(text, terminator: "")
    }
}
