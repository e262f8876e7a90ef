import Foundation
import Testing
import SCoReRuntime

/// AdamW, clipping, schedules and accumulation against PyTorch/transformers.
@Suite struct OptimizerTests {
    static func fixtureConfig() -> TrainerConfig {
        var c = TrainerConfig()
        c.optimizer = AdamWConfig(learningRate: 3e-3, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1)
        c.schedule = LRSchedule(kind: .cosine, warmupSteps: 1, totalSteps: 4)
        c.maxGradNorm = 0.5
        return c
    }

    @Test(arguments: ["llama-gqa", "qwen2"])
    func fourAdamWStepsMatchPyTorch(model name: String) throws {
        let fixture = try TrainingFixture(name)
        let trainer = try Trainer(model: try Model.load(directory: Fixtures.model(name)), config: Self.fixtureConfig())
        let losses = fixture.floats("adamw.loss"), norms = fixture.floats("adamw.grad_norm"), lrs = fixture.floats("adamw.lr")
        for i in 0..<losses.count {
            let s = try trainer.step(fixture.batch())
            #expect(s.optimizerStepped && !s.skippedNonFinite)
            #expect(abs(Float(s.loss) - losses[i]) <= 1e-4 * losses[i], "\(name) step \(i): loss \(s.loss) vs \(losses[i])")
            #expect(abs(Float(s.gradNorm) - norms[i]) <= 1e-4 * norms[i], "\(name) step \(i): grad norm \(s.gradNorm) vs \(norms[i])")
            #expect(abs(Float(s.learningRate) - lrs[i]) <= 1e-9, "\(name) step \(i): lr \(s.learningRate) vs \(lrs[i])")
        }
        #expect(trainer.completedSteps == losses.count)
        var worst: Float = 0
        for n in fixture.names(under: "adamw.param.") {
            let e = relativeError(trainer.model.value(n)!, fixture.floats("adamw.param." + n))
            worst = max(worst, e)
            #expect(e <= 1e-4, "\(name) \(n) after \(losses.count) steps: relative error \(e)")
        }
        print("\(name) AdamW: parameters after \(losses.count) steps, worst relative error \(worst)")
    }

    @Test func schedulesMatchTransformers() throws {
        let file = try SafetensorsFile(path: TrainingFixture.root + "/schedules.safetensors")
        for (kind, key) in [(LRSchedule.Kind.constant, "constant"), (.linear, "linear"), (.cosine, "cosine")] {
            let e = file.entries["schedule." + key]!
            let raw = file.bytes(of: e)
            let s = LRSchedule(kind: kind, warmupSteps: 3, totalSteps: 10)
            for step in 0..<e.elementCount {
                let expected = raw.loadUnaligned(fromByteOffset: 8 * step, as: Double.self)
                #expect(abs(s.multiplier(step: step) - expected) <= 1e-12, "\(key) step \(step)")
            }
        }
    }

    /// The 16-lane AdamW gives every element the bits of the per-element
    /// formula (same IEEE operations, same order), tails included.
    @Test func adamWLanesEqualTheElementFormula() {
        let count = 16 * 5 + 7
        let config = AdamWConfig(learningRate: 3e-3, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1)
        var values = MatMulTests.random(count, seed: 1), m = MatMulTests.random(count, seed: 2).map { $0 * 0.1 }
        var v = MatMulTests.random(count, seed: 3).map { $0 * $0 * 0.01 }
        let grads = MatMulTests.random(count, seed: 4)
        var want = values, wantM = m, wantV = v
        let lr = 2e-3, t = 3
        let decay = Float(1 - lr * Double(config.weightDecay))
        let stepSize = Float(lr / (1 - pow(Double(config.beta1), Double(t))))
        let correction2 = Float((1 - pow(Double(config.beta2), Double(t))).squareRoot())
        for i in 0..<count {
            let g = grads[i]
            var p = want[i] * decay
            let mi = wantM[i] + (1 - config.beta1) * (g - wantM[i])
            let vi = wantV[i] * config.beta2 + (1 - config.beta2) * g * g
            wantM[i] = mi
            wantV[i] = vi
            p -= stepSize * (mi / (vi.squareRoot() / correction2 + config.epsilon))
            want[i] = p
        }
        AdamW.step(values: &values, grads: grads, m: &m, v: &v, count: count, config: config, learningRate: lr, step: t)
        #expect(values.map(\.bitPattern) == want.map(\.bitPattern))
        #expect(m.map(\.bitPattern) == wantM.map(\.bitPattern) && v.map(\.bitPattern) == wantV.map(\.bitPattern))
    }

    @Test func clippingMatchesDefinition() {
        var g: [Float] = [3, 4, 0, 0]
        let n = GradientClipping.clip(&g, count: 4, maxNorm: 1)
        #expect(n == 5)
        #expect(abs(g[0] - 0.6) < 1e-6 && abs(g[1] - 0.8) < 1e-6)
        var small: [Float] = [0.3, 0.4]
        GradientClipping.clip(&small, count: 2, maxNorm: 1)
        #expect(small == [0.3, 0.4])
    }

    /// Two micro-batches with accumulation 2 = the mean of their gradients, one step.
    @Test func gradientAccumulationAveragesMicroBatches() throws {
        let fixture = try TrainingFixture("qwen3")
        let model = try Model.load(directory: Fixtures.model("qwen3"))
        let batch = fixture.batch()
        var config = Self.fixtureConfig()
        config.schedule = LRSchedule()
        config.maxGradNorm = 0
        config.accumulationSteps = 2
        let trainer = try Trainer(model: model, config: config)
        let first = try trainer.step([batch[0]])
        #expect(!first.optimizerStepped && trainer.completedSteps == 0)
        let separate = try TrainableModel(model: model, parameters: .full)
        try separate.accumulate([batch[0]], objective: Objective())
        try separate.accumulate([batch[1]], objective: Objective())
        // Trainer's gradient buffer holds the half-scaled sum just before the step.
        let second = try trainer.step([batch[1]])
        #expect(second.optimizerStepped && trainer.completedSteps == 1)
        let n = separate.layout.count
        let expectedNorm = GradientClipping.norm(separate.grads.pointer, count: n) / 2
        #expect(abs(second.gradNorm - expectedNorm) <= 1e-5 * expectedNorm)
    }

    @Test func nonFiniteGradientsSkipTheStepAndKeepTheWeights() throws {
        let fixture = try TrainingFixture("llama-gqa")
        let trainer = try Trainer(model: try Model.load(directory: Fixtures.model("llama-gqa")), config: Self.fixtureConfig())
        let before = Array(UnsafeBufferPointer(start: trainer.model.values.pointer, count: trainer.model.values.count))
        // An infinite per-token weight is refused up front; a huge one overflows the gradients to ∞.
        var batch = fixture.batch()
        batch[0].weights = batch[0].weights!.map { _ in 3e38 }
        let s = try trainer.step(batch)
        #expect(s.skippedNonFinite && !s.optimizerStepped)
        #expect(trainer.skippedSteps == 1 && trainer.completedSteps == 0)
        let after = Array(UnsafeBufferPointer(start: trainer.model.values.pointer, count: trainer.model.values.count))
        #expect(before == after)
        #expect(UnsafeBufferPointer(start: trainer.m.pointer, count: trainer.m.count).allSatisfy { $0 == 0 })
        // The next good step proceeds normally.
        let good = try trainer.step(fixture.batch())
        #expect(good.optimizerStepped && !good.skippedNonFinite)
    }

    @Test func invalidHyperParametersAreRejected() throws {
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        for mutate in [{ (c: inout TrainerConfig) in c.optimizer.learningRate = .nan },
                       { $0.optimizer.learningRate = -1 },
                       { $0.optimizer.beta1 = 1 },
                       { $0.maxGradNorm = .infinity },
                       { $0.accumulationSteps = 0 },
                       { $0.schedule = LRSchedule(kind: .cosine, warmupSteps: 0, totalSteps: 0) },
                       { $0.objective.klCoefficient = .nan }] as [(inout TrainerConfig) -> Void] {
            var c = TrainerConfig()
            mutate(&c)
            #expect(throws: ScoreError.self) { try Trainer(model: model, config: c) }
        }
    }
}
