import Testing
import SCoReRuntime

/// The training forward and backward against PyTorch (tools/make_training_fixtures.py):
/// losses and the gradient of every parameter, relative error ≤ 1e-4 per
/// tensor (max|Δ| / max|ref|).
@Suite struct TrainingGradientTests {
    static let tolerance: Float = 1e-4

    @Test(arguments: Fixtures.allModels)
    func trainingForwardMatchesInference(model name: String) throws {
        let model = try Model.load(directory: Fixtures.model(name))
        let trainable = try TrainableModel(model: model, parameters: .full)
        let ref = try Reference(model: name)
        for i in 1..<ref.sequenceCount {
            let tokens = ref.int32s("tokens.\(i)")
            var mask = [Float](repeating: 1, count: tokens.count)
            mask[0] = 0
            let eval = try trainable.accumulate([TrainingSequence(tokens: tokens, mask: mask)], objective: Objective(), backward: false)
            let lp = Array(eval.logProbs[0].dropFirst())
            let d = maxAbsDiff(lp, ref.floats("logprobs.\(i)"))
            #expect(d <= 1e-4, "\(name) sequence \(i): max |Δlogprob| vs transformers = \(d)")
            #expect(maxAbsDiff(lp, try model.logProbs(tokens: tokens)) <= 1e-5)
        }
    }

    @Test(arguments: TrainingFixture.models, [false, true])
    func crossEntropyGradientsMatchPyTorch(model name: String, checkpointing: Bool) throws {
        let fixture = try TrainingFixture(name)
        let trainable = try TrainableModel(model: try Model.load(directory: Fixtures.model(name)), parameters: .full)
        trainable.checkpointing = checkpointing
        let eval = try trainable.accumulate(fixture.batch(), objective: Objective())
        let expectedLoss = fixture.floats("ce.loss")[0]
        #expect(abs(Float(eval.loss) - expectedLoss) <= 1e-5 * abs(expectedLoss), "\(name): loss \(eval.loss) vs \(expectedLoss)")
        let names = fixture.names(under: "ce.grad.")
        #expect(names.count == trainable.layout.slots.count, "every parameter has a reference gradient")
        var worst: (Float, String) = (0, "")
        for n in names {
            guard let g = trainable.gradient(n) else {
                Issue.record("\(name): no gradient for \(n)")
                continue
            }
            let e = relativeError(g, fixture.floats("ce.grad." + n))
            if e > worst.0 { worst = (e, n) }
            #expect(e <= Self.tolerance, "\(name) \(n): relative error \(e)")
        }
        print("\(name) checkpointing=\(checkpointing): loss \(eval.loss) (torch \(expectedLoss)); worst gradient relative error \(worst.0) (\(worst.1))")
    }

    @Test(arguments: TrainingFixture.models)
    func sequenceMeanAggregation(model name: String) throws {
        let fixture = try TrainingFixture(name)
        let trainable = try TrainableModel(model: try Model.load(directory: Fixtures.model(name)), parameters: .full)
        let eval = try trainable.accumulate(fixture.batch(), objective: Objective(aggregation: .sequenceMean))
        let expectedLoss = fixture.floats("seqmean.loss")[0]
        #expect(abs(Float(eval.loss) - expectedLoss) <= 1e-5 * abs(expectedLoss))
        for n in fixture.names(under: "seqmean.grad.") {
            let e = relativeError(trainable.gradient(n)!, fixture.floats("seqmean.grad." + n))
            #expect(e <= Self.tolerance, "\(name) \(n): relative error \(e)")
        }
    }

    /// Policy = the fixture model, reference = its same-shape sibling; the
    /// reference runs through the engine's own frozen forward (a second
    /// loaded model stands in for the frozen initial weights).
    @Test(arguments: ["qwen2", "llama-gqa"], KLEstimator.allCases.filter { $0 != .none })
    func klGradientsMatchPyTorch(model name: String, estimator: KLEstimator) throws {
        let fixture = try TrainingFixture(name)
        let sibling = name == "qwen2" ? "qwen2-bf16" : "llama-sharded-f16"
        let trainable = try TrainableModel(model: try Model.load(directory: Fixtures.model(sibling)), parameters: .full)
        // Train the policy's weights: overwrite the trainable copy with the fixture model.
        let policy = try TrainableModel(model: try Model.load(directory: Fixtures.model(name)), parameters: .full)
        trainable.values.pointer.update(from: policy.values.pointer, count: policy.values.count)
        let objective = Objective(klEstimator: estimator, klCoefficient: 1)
        // Weights 0: only the KL term remains (the mask still selects the tokens).
        var batch = fixture.batch(weights: false)
        for b in batch.indices { batch[b].weights = [Float](repeating: 0, count: batch[b].tokens.count) }
        let eval = try trainable.accumulate(batch, objective: objective)
        let expected = fixture.floats("kl.\(estimator).loss")[0]
        #expect(abs(Float(eval.loss) - expected) <= 2e-5 * max(abs(expected), 0.1), "\(name) \(estimator): KL \(eval.loss) vs \(expected)")
        #expect(abs(eval.kl - eval.loss) <= 1e-9 * max(1, abs(eval.loss)))
        for n in fixture.names(under: "kl.\(estimator).grad.") {
            let e = relativeError(trainable.gradient(n)!, fixture.floats("kl.\(estimator).grad." + n))
            #expect(e <= Self.tolerance, "\(name) \(estimator) \(n): relative error \(e)")
        }
        if estimator != .exact {
            // Caller-provided reference log-probs give the same result.
            trainable.zeroGradients()
            var withRef = fixture.batch(weights: false, referenceLogProbs: true)
            for b in withRef.indices { withRef[b].weights = batch[b].weights }
            let eval2 = try trainable.accumulate(withRef, objective: objective)
            #expect(abs(eval2.loss - eval.loss) <= 1e-5 * max(1, abs(eval.loss)))
            for n in fixture.names(under: "kl.\(estimator).grad.") {
                #expect(relativeError(trainable.gradient(n)!, fixture.floats("kl.\(estimator).grad." + n)) <= Self.tolerance)
            }
        }
    }

    @Test func allMaskedBatchIsRejected() throws {
        let trainable = try TrainableModel(model: try Model.load(directory: Fixtures.model("qwen2")), parameters: .full)
        #expect(throws: ScoreError.self) {
            try trainable.accumulate([TrainingSequence(tokens: [1, 2, 3], mask: [0, 0, 0])], objective: Objective())
        }
        #expect(throws: ScoreError.self) {
            try trainable.accumulate([TrainingSequence(tokens: [1, 2, 300], mask: [0, 1, 1])], objective: Objective())
        }
        #expect(throws: ScoreError.self) {
            try trainable.accumulate([TrainingSequence(tokens: [1, 2, 3], mask: [0, 1])], objective: Objective())
        }
        #expect(throws: ScoreError.self) {
            try trainable.accumulate([TrainingSequence(tokens: [1, 2, 3], mask: [0, 1, 1], weights: [1, .nan, 1])], objective: Objective())
        }
    }
}
