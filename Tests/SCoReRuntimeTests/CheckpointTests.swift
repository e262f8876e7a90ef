#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime

/// Checkpoints: atomic saves, exact resumption, refusal to clobber other data.
@Suite struct CheckpointTests {
    static func config(_ parameters: ParameterSet) -> TrainerConfig {
        var c = TrainerConfig()
        c.parameters = parameters
        c.optimizer = AdamWConfig(learningRate: 2e-3, weightDecay: 0.05)
        c.schedule = LRSchedule(kind: .cosine, warmupSteps: 1, totalSteps: 6)
        c.maxGradNorm = 1
        c.accumulationSteps = 2
        c.objective = Objective(klEstimator: .k3, klCoefficient: 0.1)
        c.seed = 42
        return c
    }

    static func bits(_ xs: [Double]) -> [UInt64] { xs.map(\.bitPattern) }

    @Test(arguments: [ParameterSet.full, .lora(LoRAConfig(rank: 4, alpha: 8, targets: [.q, .k, .v, .o, .up]))])
    func resumingGivesBitIdenticalLosses(parameters: ParameterSet) throws {
        let fixture = try TrainingFixture("qwen2")
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        let batches = fixture.batch().map { [$0] }
        let straight = try Trainer(model: model, config: Self.config(parameters))
        var expected: [Double] = []
        for _ in 0..<4 { for b in batches { expected.append(try straight.step(b).loss) } }

        let tmp = TempDir()
        let dir = tmp.file("ckpt")
        let first = try Trainer(model: model, config: Self.config(parameters))
        var got: [Double] = []
        for _ in 0..<2 { for b in batches { got.append(try first.step(b).loss) } }
        try first.save(to: dir)
        try first.save(to: dir)  // overwriting its own checkpoint is fine
        let resumed = try Trainer.resume(from: dir, base: try Model.load(directory: Fixtures.model("qwen2")))
        #expect(resumed.completedSteps == 2)
        for _ in 0..<2 { for b in batches { got.append(try resumed.step(b).loss) } }
        #expect(Self.bits(got) == Self.bits(expected), "resumed \(got) vs straight \(expected)")
        let values = { (t: Trainer) in Array(UnsafeBufferPointer(start: t.model.values.pointer, count: t.model.values.count)) }
        #expect(values(resumed) == values(straight))
    }

    @Test func savedFullModelLoadsAsAModel() throws {
        let fixture = try TrainingFixture("llama3-rope-tied")
        let model = try Model.load(directory: Fixtures.model("llama3-rope-tied"))
        var c = Self.config(.full)
        c.accumulationSteps = 1
        let trainer = try Trainer(model: model, config: c)
        _ = try trainer.step(fixture.batch())
        _ = try trainer.step(fixture.batch())
        let tmp = TempDir()
        try trainer.save(to: tmp.file("ckpt"))
        let files = try AtomicDirectory.listDirectory(tmp.file("ckpt"))
        #expect(files == ["config.json", "generation_config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"])
        // Our own loader reads it back, and the weights are the trained ones.
        let reloaded = try Model.load(directory: tmp.file("ckpt"))
        let check = try TrainableModel(model: reloaded, parameters: .full)
        #expect(Array(UnsafeBufferPointer(start: check.values.pointer, count: check.values.count))
                == Array(UnsafeBufferPointer(start: trainer.model.values.pointer, count: trainer.model.values.count)))
    }

    @Test func loraAdapterAndMergedExport() throws {
        let model = try Model.load(directory: Fixtures.model("qwen3"))
        let fixture = try TrainingFixture("qwen3")
        var c = Self.config(.lora(LoRAConfig(rank: 4, alpha: 8, targets: LoRATarget.allCases)))
        c.accumulationSteps = 1
        let trainer = try Trainer(model: model, config: c)
        for _ in 0..<3 { _ = try trainer.step(fixture.batch()) }
        let tmp = TempDir()
        try trainer.save(to: tmp.file("adapter"))
        #expect(try AtomicDirectory.listDirectory(tmp.file("adapter"))
                == ["adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors", "trainer_state.json"])
        // The adapter loads through the peft reader, and the merged export scores like adapter-on.
        let again = try TrainableModel(model: model, parameters: c.parameters)
        try again.loadAdapter(tmp.file("adapter"))
        try trainer.exportModel(to: tmp.file("merged"))
        let merged = try Model.load(directory: tmp.file("merged"))
        let tokens = fixture.int32s("tokens.0")
        var mask = [Float](repeating: 1, count: tokens.count)
        mask[0] = 0
        let withAdapter = try again.accumulate([TrainingSequence(tokens: tokens, mask: mask)], objective: Objective(), backward: false)
        let lp = try merged.logProbs(tokens: tokens)
        #expect(maxAbsDiff(Array(withAdapter.logProbs[0].dropFirst()), lp) <= 1e-4)
    }

    @Test func refusesDirectoriesHoldingSomethingElse() throws {
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        let fixture = try TrainingFixture("qwen2")
        var c = Self.config(.full)
        c.accumulationSteps = 1
        let trainer = try Trainer(model: model, config: c)
        _ = try trainer.step(fixture.batch())
        let tmp = TempDir()
        // A directory with foreign files.
        _ = mkdir(tmp.file("foreign"), 0o755)
        tmp.write("foreign/notes.txt", "keep me")
        #expect(throws: ScoreError.self) { try trainer.save(to: tmp.file("foreign")) }
        #expect(tmp.read("foreign/notes.txt") == Array("keep me".utf8))
        // Another model's checkpoint.
        let other = try Trainer(model: try Model.load(directory: Fixtures.model("qwen3")), config: c)
        _ = try other.step(try TrainingFixture("qwen3").batch())
        try other.save(to: tmp.file("qwen3-ckpt"))
        #expect(throws: ScoreError.self) { try trainer.save(to: tmp.file("qwen3-ckpt")) }
        #expect(throws: ScoreError.self) { try Trainer.resume(from: tmp.file("qwen3-ckpt"), base: model) }
        // A read-only parent (skipped when running as root, which ignores permissions).
        _ = mkdir(tmp.file("ro"), 0o555)
        if geteuid() != 0 {
            #expect(throws: ScoreError.self) { try trainer.save(to: tmp.file("ro/ckpt")) }
        }
        // A location nobody can write to, root included (procfs).
        #expect(throws: ScoreError.self) { try trainer.save(to: "/proc/score-checkpoint") }
        // A missing parent.
        #expect(throws: ScoreError.self) { try trainer.save(to: tmp.file("missing/ckpt")) }
        // Saving in the middle of an accumulation.
        var c2 = c
        c2.accumulationSteps = 2
        let half = try Trainer(model: model, config: c2)
        _ = try half.step(fixture.batch())
        #expect(throws: ScoreError.self) { try half.save(to: tmp.file("half")) }
    }

    /// A full fine-tuning trainer one step in, saved to TMP/ckpt.
    static func savedAfterOneStep() throws -> (Model, TrainingFixture, Trainer, TempDir, String) {
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        let fixture = try TrainingFixture("qwen2")
        var c = config(.full)
        c.accumulationSteps = 1
        let trainer = try Trainer(model: model, config: c)
        _ = try trainer.step(fixture.batch())
        let tmp = TempDir()
        let dir = tmp.file("ckpt")
        try trainer.save(to: dir)
        return (model, fixture, trainer, tmp, dir)
    }

    /// A save killed before the swap leaves the previous checkpoint as it was.
    @Test func interruptedSaveLeavesThePreviousCheckpoint() throws {
        let (model, fixture, trainer, tmp, dir) = try Self.savedAfterOneStep()
        let before = tmp.read("ckpt/model.safetensors")
        _ = try trainer.step(fixture.batch())
        struct Killed: Error {}
        #expect(throws: Killed.self) {
            try AtomicDirectory.write(dir) { tmpDir in
                tmp.write(String(tmpDir.dropFirst(tmp.path.count + 1)) + "/model.safetensors", [1, 2, 3])
                throw Killed()
            }
        }
        #expect(tmp.read("ckpt/model.safetensors") == before)
        let resumed = try Trainer.resume(from: dir, base: model)
        #expect(resumed.completedSteps == 1)
        #expect(try AtomicDirectory.listDirectory(tmp.path) == ["ckpt"])
    }

    /// A save killed mid-write leaves "<dir>.score-tmp-<pid>-XXXXXX" (up to a
    /// whole checkpoint). The next save removes it when that pid is gone,
    /// and leaves alone the temporary directory of a live process.
    @Test func killedSaveLeftoversAreRemovedByTheNextSave() throws {
        let (model, fixture, trainer, tmp, dir) = try Self.savedAfterOneStep()
        // A pid that has certainly exited: a child we ran and reaped.
        var dead: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { free(argv[0]) }
        #expect(posix_spawn(&dead, "/bin/true", nil, nil, &argv, nil) == 0)
        var status: Int32 = 0
        _ = waitpid(dead, &status, 0)
        let stale = "ckpt.score-tmp-\(dead)-a1b2c3", live = "ckpt.score-tmp-\(getppid())-d4e5f6"
        for name in [stale, live] {
            #expect(mkdir(tmp.file(name), 0o755) == 0)
            tmp.write(name + "/model.safetensors", [UInt8](repeating: 7, count: 1 << 20))  // a half-written checkpoint
            tmp.write(name + "/trainer_state.json", "{")
        }
        _ = try trainer.step(fixture.batch())
        try trainer.save(to: dir)
        #expect(try AtomicDirectory.listDirectory(tmp.path) == ["ckpt", live].sorted())
        let resumed = try Trainer.resume(from: dir, base: model)
        #expect(resumed.completedSteps == 2)
        // Resuming cleans up too.
        #expect(mkdir(tmp.file(stale), 0o755) == 0)
        _ = try Trainer.resume(from: dir, base: model)
        #expect(!Files.exists(tmp.file(stale)) && Files.exists(tmp.file(live)))
    }
}
