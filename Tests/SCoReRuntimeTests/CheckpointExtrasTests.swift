#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime

/// What a long RL run needs from checkpoints beyond the weights: the caller's
/// run state inside the atomic directory, a frozen KL reference that survives
/// resumption, and a best-model export that can be replaced.
@Suite struct CheckpointExtrasTests {
    static func config(_ parameters: ParameterSet = .full) -> TrainerConfig {
        var c = TrainerConfig()
        c.parameters = parameters
        c.optimizer = AdamWConfig(learningRate: 2e-3, weightDecay: 0)
        c.objective = Objective(klEstimator: .k3, klCoefficient: 0.5)
        c.seed = 7
        return c
    }

    @Test func extraFilesLiveInsideTheCheckpoint() throws {
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        let trainer = try Trainer(model: model, config: Self.config())
        _ = try trainer.step(try TrainingFixture("qwen2").batch())
        let tmp = TempDir()
        try trainer.save(to: tmp.file("ckpt"), extraFiles: [("run_state.json", "{\"step\": 1}")])
        #expect(tmp.read("ckpt/run_state.json") == Array("{\"step\": 1}".utf8))
        // Names that would clobber the checkpoint's own files, or leave the directory, are refused
        // before anything is written.
        for name in ["trainer_state.json", "model.safetensors", "reference.safetensors", "../escape", "", ".hidden"] {
            #expect(throws: ScoreError.self) { try trainer.save(to: tmp.file("ckpt"), extraFiles: [(name, "x")]) }
        }
        #expect(tmp.read("ckpt/run_state.json") == Array("{\"step\": 1}".utf8))
        #expect(!Files.exists(tmp.file("escape")))
    }

    @Test(arguments: [ParameterSet.full, .lora(LoRAConfig(rank: 4, alpha: 8, targets: [.q, .v, .up]))])
    func frozenReferenceSurvivesResumption(parameters: ParameterSet) throws {
        let fixture = try TrainingFixture("qwen2")
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        let batch = fixture.batch()
        // Straight: 2 steps, freeze the policy as the KL anchor, 3 more.
        let straight = try Trainer(model: model, config: Self.config(parameters))
        for _ in 0..<2 { _ = try straight.step(batch) }
        try straight.model.freezeCurrentAsReference()
        var expected: [Double] = []
        for _ in 0..<3 { expected.append(try straight.step(batch).loss) }

        let tmp = TempDir()
        let first = try Trainer(model: model, config: Self.config(parameters))
        for _ in 0..<2 { _ = try first.step(batch) }
        try first.model.freezeCurrentAsReference()
        var got = [try first.step(batch).loss]
        try first.save(to: tmp.file("ckpt"))
        #expect(Files.exists(tmp.file("ckpt/reference.safetensors")))
        let resumed = try Trainer.resume(from: tmp.file("ckpt"), base: model)
        for _ in 0..<2 { got.append(try resumed.step(batch).loss) }
        #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "resumed \(got) vs straight \(expected)")

        // Without the saved reference the run would silently anchor to the base again.
        unlink(tmp.file("ckpt/reference.safetensors"))
        let unanchored = try Trainer.resume(from: tmp.file("ckpt"), base: model)
        #expect(try unanchored.step(batch).loss != expected[1])
    }

    @Test func exportReplacesItsOwnExportOnly() throws {
        let fixture = try TrainingFixture("qwen2")
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        let trainer = try Trainer(model: model, config: Self.config())
        let tmp = TempDir()
        _ = try trainer.step(fixture.batch())
        try trainer.exportModel(to: tmp.file("best"))
        _ = try trainer.step(fixture.batch())
        try trainer.exportModel(to: tmp.file("best"))  // the best model of a run is replaced as the run improves
        let reloaded = try TrainableModel(model: try Model.load(directory: tmp.file("best")), parameters: .full)
        #expect(Array(UnsafeBufferPointer(start: reloaded.values.pointer, count: reloaded.values.count))
                == Array(UnsafeBufferPointer(start: trainer.model.values.pointer, count: trainer.model.values.count)))

        _ = mkdir(tmp.file("foreign"), 0o755)
        tmp.write("foreign/notes.txt", "keep me")
        #expect(throws: ScoreError.self) { try trainer.exportModel(to: tmp.file("foreign")) }
        #expect(tmp.read("foreign/notes.txt") == Array("keep me".utf8))
        // An export of another base model (its config.json differs) is not ours to replace.
        let other = try Trainer(model: try Model.load(directory: Fixtures.model("qwen3")), config: Self.config())
        try other.exportModel(to: tmp.file("qwen3-export"))
        #expect(throws: ScoreError.self) { try trainer.exportModel(to: tmp.file("qwen3-export")) }
    }
}
