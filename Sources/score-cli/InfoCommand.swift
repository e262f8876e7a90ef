import SCoReRuntime

enum InfoCommand {
    static let help = """
    usage: score-cli info DIR [--json]
           score-cli info --system [--json]

    Loads the model in DIR (config.json + safetensors) and prints its shape,
    parameter count, storage dtype and memory use. With --system: the CPU,
    its vector features, and the matrix kernels chosen for it.
    """

    static func run(_ args: Arguments) throws {
        if args.flags.contains("system") {
            guard args.positional.isEmpty else { throw UsageError("info --system takes no model directory") }
            return printSystem(json: args.flags.contains("json"))
        }
        guard args.positional.count == 1 else { throw UsageError("info takes exactly one model directory") }
        let model = try Model.load(directory: args.positional[0], options: modelLoadOptions)
        let c = model.config
        let fields: [(String, String)] = [
            ("architecture", c.architecture.rawValue),
            ("parameters", "\(model.weights.parameterCount)"),
            ("dtype", model.weights.storedType.rawValue),
            ("bytes_in_memory", "\(model.bytesInMemory)"),
            ("compute", model.weights.computesInBF16 ? "bf16" : "f32"),
            ("vocab_size", "\(c.vocabSize)"),
            ("context_length", "\(model.contextLength)"),
            ("hidden_size", "\(c.hiddenSize)"),
            ("layers", "\(c.layerCount)"),
            ("heads", "\(c.headCount)"),
            ("kv_heads", "\(c.kvHeadCount)"),
            ("head_dim", "\(c.headDim)"),
            ("intermediate_size", "\(c.intermediateSize)"),
            ("tied_embeddings", "\(c.tieWordEmbeddings)"),
            ("bos_token_id", c.bosTokenId.map { "\($0)" } ?? "none"),
            ("eos_token_ids", c.eosTokenIds.map { "\($0)" }.joined(separator: ",")),
        ]
        if args.flags.contains("json") {
            let body = fields.map { key, value in
                let numeric = Int(value) != nil || value == "true" || value == "false"
                return "\"\(key)\": " + (numeric ? value : "\"\(value)\"")
            }.joined(separator: ", ")
            print("{\(body)}")
        } else {
            for (key, value) in fields { print(key + String(repeating: " ", count: max(1, 18 - key.count)) + value) }
        }
    }

    static func printSystem(json: Bool) {
        let fields = SystemInfo.fields
        if json {
            print((try? JSON.object(fields).serialized(indent: false)) ?? "{}")
            return
        }
        for (key, value) in fields {
            let text: String
            switch value {
            case .string(let s): text = s
            case .int(let i): text = String(i)
            case .array(let items): text = items.compactMap(\.stringValue).joined(separator: " ")
            default: text = (try? value.serialized(indent: false)) ?? ""
            }
            print(key + String(repeating: " ", count: max(1, 18 - key.count)) + text)
        }
    }
}
