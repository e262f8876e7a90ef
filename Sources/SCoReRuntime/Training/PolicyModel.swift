/// The policy being trained, seen as an inference `Model`, so that on-policy
/// rollouts sample from exactly the weights the next update differentiates.
extension TrainableModel {
    /// With full fine-tuning the returned model reads the trainer's parameter
    /// buffer in place: it follows every optimiser step without a copy. With
    /// LoRA it holds the adapters merged into a copy of the base (W + s·B·A)
    /// as of this call; call again after an update.
    public func policyModel() throws -> Model {
        switch parameterSet {
        case .full:
            return Model(view: weights, of: base, owner: values)
        case .lora:
            let merged = try mergedWeights()
            let view = DecoderTensors(config: config, layout: ParameterLayout.decoder(config), base: merged.pointer)
            return Model(view: view, of: base, owner: merged)
        }
    }

    /// Makes the current policy the reference for the KL term from now on
    /// (SCoRe's option of anchoring Stage II to the Stage I model rather than
    /// the base). The snapshot is a copy: later updates do not move it.
    public func freezeCurrentAsReference() throws {
        let layout = ParameterLayout.decoder(config)
        let snapshot: FloatBuffer
        switch parameterSet {
        case .full:
            snapshot = FloatBuffer(count: values.count, zeroed: false)
            snapshot.pointer.update(from: values.pointer, count: values.count)
        case .lora:
            snapshot = try mergedWeights()
        }
        reference = DecoderTensors(config: config, layout: layout, base: snapshot.pointer)
        referenceSnapshot = snapshot
    }
}

extension Model {
    /// A model with `base`'s configuration and tokenizer whose weights are
    /// the tensors of `view`, kept alive by `owner`.
    convenience init(view t: DecoderTensors, of base: Model, owner: AnyObject) {
        func p(_ x: UnsafeMutablePointer<Float>?) -> UnsafePointer<Float> { UnsafePointer(x!) }
        func linear(_ l: LinearTensors) -> Linear {
            Linear(weight: WeightMatrix(f32: p(l.weight), rows: l.rows, cols: l.cols), bias: l.bias.map { UnsafePointer($0) })
        }
        let layers = t.layers.map { l in
            LayerWeights(inputNorm: p(l.inputNorm), q: linear(l.q), k: linear(l.k), v: linear(l.v), o: linear(l.o),
                         qNorm: l.qNorm.map { UnsafePointer($0) }, kNorm: l.kNorm.map { UnsafePointer($0) },
                         postAttentionNorm: p(l.postAttentionNorm), gate: linear(l.gate), up: linear(l.up), down: linear(l.down))
        }
        let c = base.config
        let weights = Weights(embedding: WeightMatrix(f32: p(t.embedding), rows: c.vocabSize, cols: c.hiddenSize),
                              layers: layers, finalNorm: p(t.finalNorm),
                              lmHead: WeightMatrix(f32: p(t.lmHead), rows: c.vocabSize, cols: c.hiddenSize),
                              parameterCount: base.weights.parameterCount, ownedBytes: 0, owner: owner)
        self.init(directory: base.directory, config: base.config, weights: weights,
                  contextLength: base.contextLength, tokenizer: base.tokenizer)
    }
}
