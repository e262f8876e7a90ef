import Testing
import SCoReRuntime

/// LoRA against peft (tools/make_training_fixtures.py): an adapter on every
/// projection saved by peft, its A/B gradients, log-probs and merged weights.
@Suite struct LoRATests {
    static let all = LoRAConfig(rank: 4, alpha: 8, targets: LoRATarget.allCases)
    static func adapter(_ name: String) -> String { TrainingFixture.root + "/" + name + "/adapter" }

    @Test(arguments: ["qwen2", "qwen3"])
    func gradientsMatchPeft(model name: String) throws {
        let fixture = try TrainingFixture(name)
        let trainable = try TrainableModel(model: try Model.load(directory: Fixtures.model(name)), parameters: .lora(Self.all))
        #expect(try AdapterFiles.readConfig(Self.adapter(name)) == Self.all)
        try trainable.loadAdapter(Self.adapter(name))
        let eval = try trainable.accumulate(fixture.batch(), objective: Objective())
        let expected = fixture.floats("lora.loss")[0]
        #expect(abs(Float(eval.loss) - expected) <= 1e-5 * expected, "\(name): LoRA loss \(eval.loss) vs peft \(expected)")
        let names = fixture.names(under: "lora.grad.")
        #expect(names.count == trainable.layout.slots.count && names.count == 2 * 7 * 2)
        var worst: Float = 0
        for n in names {
            guard let g = trainable.gradient(n) else { Issue.record("no gradient for \(n)"); continue }
            let e = relativeError(g, fixture.floats("lora.grad." + n))
            worst = max(worst, e)
            #expect(e <= 1e-4, "\(name) \(n): relative error \(e)")
        }
        print("\(name) LoRA: loss \(eval.loss) (peft \(expected)), worst A/B gradient relative error \(worst)")
        for b in 0..<2 {
            let mask = fixture.floats("mask.\(b)"), ref = fixture.floats("lora.logprobs.\(b)")
            let masked = (0..<mask.count).filter { mask[$0] > 0 }
            #expect(maxAbsDiff(masked.map { eval.logProbs[b][$0] }, masked.map { ref[$0] }) <= 1e-4)
        }
    }

    @Test(arguments: ["qwen2", "qwen3"])
    func mergeMatchesPeft(model name: String) throws {
        let fixture = try TrainingFixture(name)
        let trainable = try TrainableModel(model: try Model.load(directory: Fixtures.model(name)), parameters: .lora(Self.all))
        try trainable.loadAdapter(Self.adapter(name))
        let merged = try trainable.mergedWeights()
        let layout = ParameterLayout.decoder(trainable.config)
        for n in fixture.names(under: "lora.merged.") {
            let slot = layout.slot(n)!
            let got = Array(UnsafeBufferPointer(start: merged.pointer + slot.offset, count: slot.count))
            #expect(relativeError(got, fixture.floats("lora.merged." + n)) <= 1e-6, "\(name) merged \(n)")
        }
    }

    /// A fresh adapter (B = 0) leaves the model unchanged, and "adapters off"
    /// is the reference policy: KL to it is exactly 0 at the start.
    @Test func freshAdapterIsTheBaseModel() throws {
        let fixture = try TrainingFixture("llama-gqa")
        let model = try Model.load(directory: Fixtures.model("llama-gqa"))
        let lora = try TrainableModel(model: model, parameters: .lora(LoRAConfig(rank: 8, alpha: 16, targets: [.q, .v, .down])))
        let full = try TrainableModel(model: model, parameters: .full)
        let a = try lora.accumulate(fixture.batch(), objective: Objective(klEstimator: .exact, klCoefficient: 0.5))
        let b = try full.accumulate(fixture.batch(), objective: Objective())
        #expect(abs(a.loss - b.loss) <= 1e-6 * b.loss)
        #expect(abs(a.kl) <= 1e-7)
        // A gets no gradient through B = 0; B does.
        let nameA = LoRAConfig.tensorName(layer: 0, target: .q, matrix: "A"), nameB = LoRAConfig.tensorName(layer: 0, target: .q, matrix: "B")
        #expect(lora.gradient(nameA)!.allSatisfy { $0 == 0 })
        #expect(lora.gradient(nameB)!.contains { $0 != 0 })
    }

    /// Anchoring KL to the current policy (Stage II after Stage I) must not
    /// move the policy itself: after a freeze and further updates, the rollout
    /// model and the exported model both score exactly what the trainer
    /// differentiates, base + s·B·A of now (the merge once started from the
    /// frozen snapshot, so B·A was counted twice).
    @Test func freezingTheReferenceLeavesThePolicyAlone() throws {
        let fixture = try TrainingFixture("qwen2")
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        var config = TrainerConfig()
        config.parameters = .lora(Self.all)
        let trainer = try Trainer(model: model, config: config)
        let trainable = trainer.model
        try trainable.loadAdapter(Self.adapter("qwen2"))
        try trainable.freezeCurrentAsReference()
        // Further updates: the adapters move after the freeze.
        for slot in trainable.layout.slots where slot.name.contains("lora_B") {
            let b = trainable.value(slot.name)!
            for i in b.indices { b[i] = b[i] * 1.5 + 0.01 }
        }
        let batch = fixture.batch(weights: false)
        let trained = try trainable.accumulate(batch, objective: Objective(), backward: false)
        let rollout = try trainable.policyModel()
        let tmp = TempDir()
        try trainer.exportModel(to: tmp.file("export"))
        let exported = try Model.load(directory: tmp.file("export"))
        for (b, sequence) in batch.enumerated() {
            let scored = (0..<sequence.tokens.count).filter { sequence.mask[$0] > 0 }
            let want = scored.map { trained.logProbs[b][$0] }
            // Model.logProbs(tokens:)[t - 1] is log p(tokens[t]).
            let fromRollout = try rollout.logProbs(tokens: sequence.tokens), fromExport = try exported.logProbs(tokens: sequence.tokens)
            #expect(maxAbsDiff(scored.map { fromRollout[$0 - 1] }, want) <= 1e-4, "rollout model, sequence \(b)")
            #expect(maxAbsDiff(scored.map { fromExport[$0 - 1] }, want) <= 1e-4, "exported model, sequence \(b)")
        }
        // The anchor is the snapshot: KL to it is no longer zero.
        let withKL = try trainable.accumulate(batch, objective: Objective(klEstimator: .exact, klCoefficient: 1), backward: false)
        #expect(withKL.kl > 1e-6)
    }

    @Test func badLoRASettingsAreRejected() throws {
        #expect(throws: ScoreError.self) { try LoRAConfig.targets(named: ["q_proj", "qkv_proj"]) }
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        #expect(throws: ScoreError.self) { try TrainableModel(model: model, parameters: .lora(LoRAConfig(rank: 0))) }
        #expect(throws: ScoreError.self) { try TrainableModel(model: model, parameters: .lora(LoRAConfig(rank: 4, alpha: .nan))) }
        #expect(throws: ScoreError.self) { try TrainableModel(model: model, parameters: .lora(LoRAConfig(rank: 4, targets: []))) }
        // An adapter saved for other settings does not load.
        let other = try TrainableModel(model: model, parameters: .lora(LoRAConfig(rank: 2, alpha: 8, targets: LoRATarget.allCases)))
        #expect(throws: ScoreError.self) { try other.loadAdapter(Self.adapter("qwen2")) }
        // qwen3's adapter has other shapes than qwen2 needs.
        let q2 = try TrainableModel(model: model, parameters: .lora(Self.all))
        #expect(throws: ScoreError.self) { try q2.loadAdapter(Self.adapter("qwen3")) }
    }
}
