/// Checkpoints: a directory that is at once a usable model and a resumable
/// training state.
///
///   full:  config.json, generation_config.json and tokenizer files copied
///          from the base, model.safetensors (F32, HF names): transformers loads it
///   LoRA:  adapter_config.json + adapter_model.safetensors (peft's format)
///   both:  optimizer.safetensors (exp_avg.<name>, exp_avg_sq.<name>) and
///          trainer_state.json (step, RNG, the whole TrainerConfig, and a
///          fingerprint of the model it belongs to); reference.safetensors
///          (HF names) when `freezeCurrentAsReference` replaced the base as
///          the KL anchor; any extra files the caller passes (run state)
///
/// Saves replace the directory atomically (`AtomicDirectory`). A directory
/// that holds something else (another model's checkpoint, or any files that
/// are not a libscore checkpoint) is never overwritten.
extension Trainer {
    static let stateFormat = "libscore-trainer"
    static let stateVersion: Int64 = 1
    static let copiedFiles = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                              "special_tokens_map.json", "vocab.json", "merges.txt", "chat_template.jinja", "tokenizer.model"]

    static let referenceFile = "reference.safetensors"

    /// Saves the checkpoint; `extraFiles` (name, text) are written inside the
    /// same atomic directory, so a caller's own run state can never disagree
    /// with the weights beside it.
    public func save(to dir: String, extraFiles: [(name: String, text: String)] = []) throws {
        guard pendingMicroBatches == 0 else {
            throw ScoreError.invalidArgument("cannot save between micro-batches (\(pendingMicroBatches) of \(config.accumulationSteps) accumulated)")
        }
        let reserved: Set<String> = Set(Self.copiedFiles + ["model.safetensors", "adapter_config.json", "adapter_model.safetensors",
                                                          "optimizer.safetensors", "trainer_state.json", Self.referenceFile])
        for (name, _) in extraFiles where name.isEmpty || name.contains("/") || name.hasPrefix(".") || reserved.contains(name) {
            throw ScoreError.invalidArgument("cannot save an extra checkpoint file named \"\(name)\"")
        }
        try checkTarget(dir)
        let fingerprint = self.fingerprint
        try AtomicDirectory.write(dir) { tmp in
            switch config.parameters {
            case .full:
                try writeFullModel(tmp, values: model.values.pointer, layout: model.layout)
            case .lora(let lc):
                try AdapterFiles.write(tmp, config: lc, layout: model.layout, values: model.values.pointer, baseModel: model.base.directory)
            }
            var tensors: [SafetensorsWriter.Tensor] = []
            for s in model.layout.slots { tensors.append(.init(name: "exp_avg." + s.name, shape: s.shape, data: m.pointer + s.offset)) }
            for s in model.layout.slots { tensors.append(.init(name: "exp_avg_sq." + s.name, shape: s.shape, data: v.pointer + s.offset)) }
            try SafetensorsWriter.write(path: Files.join(tmp, "optimizer.safetensors"), tensors: tensors)
            let state = JSON.object([
                ("format", .string(Self.stateFormat)),
                ("version", .int(Self.stateVersion)),
                ("step", .int(Int64(completedSteps))),
                ("skipped_steps", .int(Int64(skippedSteps))),
                ("schedule_position", .int(Int64(completedSteps))),
                ("rng", .object([("seed", .string(String(rng.seed))), ("counter", .string(String(rng.counter)))])),
                ("model", fingerprint),
                ("config", config.json),
            ])
            let out = try OutputFile(path: Files.join(tmp, "trainer_state.json"))
            try out.write(try state.serialized())
            try out.close()
            if let snapshot = model.referenceSnapshot {
                try SafetensorsWriter.write(path: Files.join(tmp, Self.referenceFile), tensors: ParameterLayout.decoder(model.config).slots.map {
                    .init(name: $0.name, shape: $0.shape, data: snapshot.pointer + $0.offset)
                })
            }
            for (name, text) in extraFiles {
                let file = try OutputFile(path: Files.join(tmp, name))
                try file.write(text)
                try file.close()
            }
        }
    }

    /// Writes a Hugging Face model directory of the current weights (LoRA
    /// adapters merged into the base: W + (α/r)·B·A), atomically.
    public func exportModel(to dir: String) throws {
        try checkExportTarget(dir)
        switch config.parameters {
        case .full:
            try AtomicDirectory.write(dir) { try writeFullModel($0, values: model.values.pointer, layout: model.layout) }
        case .lora:
            let merged = try model.mergedWeights()
            try AtomicDirectory.write(dir) { try writeFullModel($0, values: merged.pointer, layout: ParameterLayout.decoder(model.config)) }
        }
    }

    /// Continues a run saved by `save`. `base` is the model the run started
    /// from (its weights are the frozen reference and, with LoRA, the base).
    public static func resume(from dir: String, base: Model) throws -> Trainer {
        try AtomicDirectory.recover(dir)
        let path = Files.join(dir, "trainer_state.json")
        guard Files.exists(path) else { throw ScoreError.io("\(dir): no trainer_state.json (not a libscore checkpoint)") }
        let state = try Files.readJSON(path)
        guard state["format"]?.stringValue == stateFormat, state["version"]?.intValue == Int(stateVersion) else {
            throw ScoreError.format("\(path): not a \(stateFormat) version \(stateVersion) state")
        }
        guard let configJSON = state["config"] else { throw ScoreError.format("\(path): missing 'config'") }
        let config = try TrainerConfig(json: configJSON, source: path)
        let trainer = try Trainer(model: base, config: config)
        guard state["model"] == trainer.fingerprint else {
            throw ScoreError.invalidArgument("\(dir) is a checkpoint of a different model or parameter set than \(base.directory)")
        }
        guard let step = state["step"]?.intValue, step >= 0, let skipped = state["skipped_steps"]?.intValue,
              let seedText = state["rng"]?["seed"]?.stringValue, let seed = UInt64(seedText),
              let counterText = state["rng"]?["counter"]?.stringValue, let counter = UInt64(counterText) else {
            throw ScoreError.format("\(path): missing or invalid step / rng")
        }
        switch config.parameters {
        case .full:
            try AdapterFiles.readFloats(Files.join(dir, "model.safetensors"), layout: trainer.model.layout,
                                        into: trainer.model.values.pointer, what: "model")
        case .lora:
            try AdapterFiles.readTensors(dir, layout: trainer.model.layout, into: trainer.model.values.pointer)
        }
        var moments = ParameterLayout()
        for s in trainer.model.layout.slots { moments.append("exp_avg." + s.name, s.shape) }
        for s in trainer.model.layout.slots { moments.append("exp_avg_sq." + s.name, s.shape) }
        let both = FloatBuffer(count: moments.count)
        try AdapterFiles.readFloats(Files.join(dir, "optimizer.safetensors"), layout: moments, into: both.pointer, what: "optimizer")
        for s in trainer.model.layout.slots {
            (trainer.m.pointer + s.offset).update(from: both.pointer + moments.offset("exp_avg." + s.name)!, count: s.count)
            (trainer.v.pointer + s.offset).update(from: both.pointer + moments.offset("exp_avg_sq." + s.name)!, count: s.count)
        }
        let referencePath = Files.join(dir, referenceFile)
        if Files.exists(referencePath) {
            let layout = ParameterLayout.decoder(trainer.model.config)
            let snapshot = FloatBuffer(count: layout.count, zeroed: false)
            try AdapterFiles.readFloats(referencePath, layout: layout, into: snapshot.pointer, what: "reference")
            trainer.model.reference = DecoderTensors(config: trainer.model.config, layout: layout, base: snapshot.pointer)
            trainer.model.referenceSnapshot = snapshot
        }
        trainer.completedSteps = step
        trainer.skippedSteps = skipped
        trainer.rng = TrainingRNG(seed: seed, counter: counter)
        return trainer
    }

    /// What a checkpoint directory must match to be overwritten or resumed.
    var fingerprint: JSON {
        let c = model.config
        var kind = "full"
        if case .lora = config.parameters { kind = "lora" }
        return .object([
            ("architecture", .string(c.architecture.rawValue)),
            ("hidden_size", .int(Int64(c.hiddenSize))),
            ("num_hidden_layers", .int(Int64(c.layerCount))),
            ("vocab_size", .int(Int64(c.vocabSize))),
            ("parameter_set", .string(kind)),
            ("trainable_parameters", .int(Int64(model.layout.parameterCount))),
        ])
    }

    /// Refuses targets that hold something other than this run's checkpoints.
    public func checkTarget(_ dir: String) throws {
        try AtomicDirectory.recover(dir)
        guard Files.exists(dir) else { return }
        guard Files.isDirectory(dir) else { throw ScoreError.io("\(dir) exists and is not a directory") }
        let entries = try AtomicDirectory.listDirectory(dir)
        if entries.isEmpty { return }
        let statePath = Files.join(dir, "trainer_state.json")
        guard entries.contains("trainer_state.json") else {
            throw ScoreError.invalidArgument("\(dir) is not empty and is not a libscore checkpoint; refusing to overwrite it")
        }
        let state = try Files.readJSON(statePath)
        guard state["model"] == fingerprint else {
            throw ScoreError.invalidArgument("\(dir) already holds a checkpoint of a different model; refusing to overwrite it")
        }
    }

    /// An export may replace an earlier export of the same base model (only
    /// files an export writes, config.json identical to the base's) or a
    /// checkpoint of this run; nothing else.
    func checkExportTarget(_ dir: String) throws {
        try AtomicDirectory.recover(dir)
        guard Files.isDirectory(dir) else { return try checkTarget(dir) }
        let entries = try AtomicDirectory.listDirectory(dir)
        if entries.isEmpty || entries.contains("trainer_state.json") { return try checkTarget(dir) }
        let exported = Set(Self.copiedFiles + ["model.safetensors"])
        let config = Files.join(dir, "config.json")
        guard entries.allSatisfy(exported.contains), Files.exists(config),
              try Files.readAll(config) == Files.readAll(Files.join(model.base.directory, "config.json")) else {
            throw ScoreError.invalidArgument("\(dir) is not empty and is not an export of \(model.base.directory); refusing to overwrite it")
        }
    }

    private func writeFullModel(_ dir: String, values: UnsafePointer<Float>, layout: ParameterLayout) throws {
        for name in Self.copiedFiles {
            let source = Files.join(model.base.directory, name)
            if Files.exists(source) { try AtomicDirectory.copyFile(source, Files.join(dir, name)) }
        }
        try SafetensorsWriter.write(path: Files.join(dir, "model.safetensors"),
                                    tensors: layout.slots.map { .init(name: $0.name, shape: $0.shape, data: values + $0.offset) })
    }
}

extension TrainableModel {
    /// The policy's full decoder weights: with LoRA, every adapter merged
    /// into the weights the forward pass reads, W + scale·B·A. The merge
    /// starts from those (the base), never from the KL reference, which
    /// `freezeCurrentAsReference` may have replaced with a merged snapshot.
    public func mergedWeights() throws -> FloatBuffer {
        let c = config
        let layout = ParameterLayout.decoder(c)
        let out = FloatBuffer(count: layout.count)
        let dst = DecoderTensors(config: c, layout: layout, base: out.pointer)
        for ((name, src, count), (_, d, _)) in zip(weights.named(c), dst.named(c)) {
            guard let src, let d else { throw ScoreError.internal("tensor \(name) has no storage") }
            d.update(from: src, count: count)
        }
        guard case .lora(let lc) = parameterSet, let lora else { return out }
        for (l, layer) in dst.layers.enumerated() {
            let targets = [layer.q, layer.k, layer.v, layer.o, layer.gate, layer.up, layer.down]
            for t in lc.targets {
                guard let pair = lora[l][t.index], let w = targets[t.index].weight else { continue }
                let shape = targets[t.index]
                MatMul.matmul(m: shape.rows, n: shape.cols, k: pair.rank, a: pair.b, lda: pair.rank, b: pair.a, ldb: shape.cols,
                            c: w, ldc: shape.cols, alpha: pair.scale, beta: 1)
            }
        }
        return out
    }

    /// Loads a peft adapter (its configuration must match this model's LoRA settings).
    public func loadAdapter(_ dir: String) throws {
        guard case .lora(let lc) = parameterSet else { throw ScoreError.invalidArgument("the model is not set up for LoRA") }
        let found = try AdapterFiles.readConfig(dir)
        guard found.rank == lc.rank, Set(found.targets) == Set(lc.targets), found.alpha == lc.alpha else {
            throw ScoreError.invalidArgument("\(dir): adapter (r \(found.rank), alpha \(found.alpha), \(found.targets.map(\.rawValue))) does not match the LoRA settings (r \(lc.rank), alpha \(lc.alpha), \(lc.targets.map(\.rawValue)))")
        }
        try AdapterFiles.readTensors(dir, layout: layout, into: values.pointer)
    }
}
