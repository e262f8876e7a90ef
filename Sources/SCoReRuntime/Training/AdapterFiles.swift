/// LoRA adapters in peft's format: `adapter_config.json` and
/// `adapter_model.safetensors` with tensors named
/// `base_model.model.model.layers.N.<self_attn|mlp>.<module>.lora_A.weight` [r × in]
/// and `...lora_B.weight` [out × r]. Scale = lora_alpha / r (or / √r with use_rslora).
public enum AdapterFiles {
    /// Reads adapter_config.json. Features we do not implement are refused by name.
    public static func readConfig(_ dir: String) throws -> LoRAConfig {
        let path = Files.join(dir, "adapter_config.json")
        guard Files.exists(path) else { throw ScoreError.io("\(dir): no adapter_config.json") }
        let json = try Files.readJSON(path)
        func fail(_ m: String) -> ScoreError { .format("\(path): \(m)") }
        if let type = json["peft_type"]?.stringValue, type != "LORA" { throw ScoreError.unsupported("\(path): peft_type '\(type)' (only LORA)") }
        guard let r = json["r"]?.intValue, r > 0 else { throw fail("missing or invalid 'r'") }
        guard let alpha = json["lora_alpha"]?.doubleValue, alpha > 0 else { throw fail("missing or invalid 'lora_alpha'") }
        guard let names = json["target_modules"]?.arrayValue?.compactMap(\.stringValue), !names.isEmpty else {
            throw ScoreError.unsupported("\(path): 'target_modules' must be a list of module names (a regex is not supported)")
        }
        for flag in ["use_dora", "use_rslora", "fan_in_fan_out"] where json[flag]?.boolValue == true {
            if flag == "use_rslora" { throw ScoreError.unsupported("\(path): use_rslora is not supported") }
            throw ScoreError.unsupported("\(path): \(flag) is not supported")
        }
        for key in ["rank_pattern", "alpha_pattern"] where (json[key]?.objectValue?.count ?? 0) > 0 {
            throw ScoreError.unsupported("\(path): '\(key)' (per-module ranks) is not supported")
        }
        for key in ["layers_to_transform", "modules_to_save"] where !(json[key]?.isNull ?? true) {
            throw ScoreError.unsupported("\(path): '\(key)' is not supported")
        }
        if let bias = json["bias"]?.stringValue, bias != "none" { throw ScoreError.unsupported("\(path): bias '\(bias)' is not supported (only 'none')") }
        var config = LoRAConfig(rank: r, alpha: Float(alpha), targets: try LoRAConfig.targets(named: names))
        config.targets = LoRATarget.allCases.filter { config.targets.contains($0) }
        return config
    }

    /// Copies the adapter tensors of `dir` into `values` (laid out by `layout`).
    static func readTensors(_ dir: String, layout: ParameterLayout, into values: UnsafeMutablePointer<Float>) throws {
        let path = Files.join(dir, "adapter_model.safetensors")
        guard Files.exists(path) else { throw ScoreError.io("\(dir): no adapter_model.safetensors") }
        try readFloats(path, layout: layout, into: values, what: "adapter")
    }

    /// Fills every slot of `layout` from a safetensors file (F32/F16/BF16);
    /// missing, misshapen or unexpected tensors are errors.
    static func readFloats(_ path: String, layout: ParameterLayout, into values: UnsafeMutablePointer<Float>, what: String) throws {
        let file = try SafetensorsFile(path: path, mapped: true)
        for slot in layout.slots {
            guard let e = file.entries[slot.name] else { throw ScoreError.format("\(path): missing \(what) tensor '\(slot.name)'") }
            guard e.shape == slot.shape else { throw ScoreError.format("\(path): tensor '\(slot.name)' has shape \(e.shape), expected \(slot.shape)") }
            let raw = file.bytes(of: e)
            guard let src = raw.baseAddress else { continue }
            switch e.type {
            case .f32: Convert.f32Copy(src, values + slot.offset, count: slot.count)
            case .f16: Convert.f16ToF32(src, values + slot.offset, count: slot.count)
            case .bf16: Convert.bf16ToF32(src, values + slot.offset, count: slot.count)
            default: throw ScoreError.unsupported("\(path): tensor '\(slot.name)' has dtype \(e.type.rawValue)")
            }
        }
        let known = Set(layout.slots.map(\.name))
        if let extra = file.entries.keys.sorted().first(where: { !known.contains($0) }) {
            throw ScoreError.format("\(path): unexpected \(what) tensor '\(extra)' (the configuration does not account for it)")
        }
    }

    /// Writes adapter_config.json and adapter_model.safetensors into `dir`.
    static func write(_ dir: String, config: LoRAConfig, layout: ParameterLayout, values: UnsafePointer<Float>,
                      baseModel: String) throws {
        let json = JSON.object([
            ("base_model_name_or_path", .string(baseModel)),
            ("bias", .string("none")),
            ("fan_in_fan_out", .bool(false)),
            ("inference_mode", .bool(true)),
            ("init_lora_weights", .bool(true)),
            ("lora_alpha", .double(Double(config.alpha))),
            ("lora_dropout", .double(0)),
            ("modules_to_save", .null),
            ("peft_type", .string("LORA")),
            ("r", .int(Int64(config.rank))),
            ("target_modules", .array(config.targets.map { .string($0.rawValue) })),
            ("task_type", .string("CAUSAL_LM")),
            ("use_dora", .bool(false)),
            ("use_rslora", .bool(false)),
        ])
        let out = try OutputFile(path: Files.join(dir, "adapter_config.json"))
        try out.write(try json.serialized())
        try out.close()
        try SafetensorsWriter.write(path: Files.join(dir, "adapter_model.safetensors"),
                                    tensors: layout.slots.map { .init(name: $0.name, shape: $0.shape, data: values + $0.offset) })
    }
}
