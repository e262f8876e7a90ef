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
        _ = BLAS.prepare
        let cpu = CPU.current, core = OpenBLASCore.choice
        let fields: [(String, String)] = [
            ("cpu", cpu.brand), ("vendor", cpu.vendor), ("family", "\(cpu.family)"), ("model", "\(cpu.model)"),
            ("features", cpu.features.names.joined(separator: " ")),
            ("openblas_detected", core.detected), ("openblas_core", core.active),
            ("threads", "\(BLAS.threadCount)"),
        ]
        if json {
            let object = JSON.object(fields.map { key, value in (key, Int64(value).map { .int($0) } ?? .string(value)) })
            print((try? object.serialized(indent: false)) ?? "{}")
        } else {
            for (key, value) in fields { print(key + String(repeating: " ", count: max(1, 18 - key.count)) + value) }
        }
    }
}
