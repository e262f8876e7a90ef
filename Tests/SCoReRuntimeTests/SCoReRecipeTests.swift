#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime

/// The core's SCoRe recipe (score-cli train, score_rl_run_recipe): its
/// settings' checks, the checkpoint fingerprint score-cli has always
/// written, resuming checks, and workers of a collective.
@Suite struct SCoReRecipeTests {
    static var data: ProblemSet {
        var set = ProblemSet()
        set.problems = DataParallelTests.problems
        set.answers = DataParallelTests.references
        return set
    }

    static func settings() -> SCoReRecipeSettings {
        var s = SCoReRecipeSettings()
        s.stepsPerStage = 1
        s.problemsPerStep = 3
        s.saveEvery = 1
        s.score.samplesPerProblem = 2
        s.score.maxNewTokens = 3
        s.score.microBatchSize = 4
        s.training.optimizer.learningRate = 1e-2
        return s
    }

    static func run(_ out: String, _ settings: SCoReRecipeSettings, resume: Bool = false,
                    collective: Collective = SingleProcess.shared,
                    onStep: ((SCoReRecipe.StepReport) throws -> Void)? = nil) throws -> SCoReRecipe {
        let recipe = try SCoReRecipe(model: try Model.load(directory: Fixtures.model("qwen2-chat")), outputDirectory: out,
                                     problems: data, reward: DataParallelTests.reward, settings: settings, resume: resume,
                                     collective: collective, onStep: onStep)
        try recipe.run()
        return recipe
    }

    static func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }

    @Test func settingsAreChecked() {
        var s = Self.settings()
        s.stages = .one
        s.rounds = 2
        #expect(Self.message { try s.validate() }.contains("2 rounds need both stages"))
        s = Self.settings()
        s.stepsPerStage = 0
        #expect(Self.message { try s.validate() }.contains("steps per stage must be in 1...10000000, got 0"))
        s = Self.settings()
        s.evalEvery = 0
        #expect(Self.message { try s.validate() }.contains("evaluation interval"))
        s = Self.settings()
        s.stages = .two
        s.anchorStageTwoToStageOne = true
        #expect(Self.message { try s.validate() }.contains("anchoring Stage II"))
        s = Self.settings()
        s.score.attempts = 1  // Stage I needs two
        #expect(Self.message { try s.validate() }.contains("Stage I"))
        s.stages = .two  // the single-turn ablation
        #expect(Self.message { try s.validate() } == "no error")
        s = Self.settings()
        s.training.optimizer.learningRate = .nan
        #expect(Self.message { try s.validate() }.contains("learning rate"))
        #expect(Self.settings().phases == [SCoReRecipePhase(stage: .one, round: 1), SCoReRecipePhase(stage: .two, round: 1)])
        s = Self.settings()
        s.stageTwoSteps = 0
        #expect(Self.message { try s.validate() }.contains("Stage II steps must be in 1...10000000, got 0"))
        s.stepsPerStage = 7
        s.stageTwoSteps = 30
        #expect(s.steps(for: .one) == 7 && s.steps(for: .two) == 30)
        s.stageOneSteps = 2
        #expect(s.steps(for: .one) == 2 && s.steps(for: .two) == 30)
    }

    /// The keys score-cli train has always written, in its order; the ones it
    /// cannot set appear only when they differ from its values.
    @Test func theFingerprintIsScoreCliTrains() throws {
        var s = Self.settings()
        s.useVerifier(try Verifier.parse("exact"))
        guard case .object(let plain) = s.fingerprint(problems: 5) else { Issue.record("not an object"); return }
        #expect(plain.keys == ["stage", "problems_per_step", "samples", "attempts", "alpha", "beta1", "beta2", "lr", "kl", "update",
                               "reference", "temperature", "max_new_tokens", "instruction", "task_prompt", "system", "verifier",
                               "tolerance", "lora_rank", "lora_alpha", "micro_batch", "seed", "problems"])
        #expect(plain["stage"] == .string("both") && plain["verifier"] == .string("exact") && plain["problems"] == .int(5))
        s.score.sampling.topK = 5
        s.training.parameters = .lora(LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v]))
        guard case .object(let other) = s.fingerprint(problems: 5) else { Issue.record("not an object"); return }
        #expect(other["top_k"] == .int(5) && other["top_p"] == nil && other["lora_targets"] == .string("q_proj,v_proj"))
        #expect(other["lora_rank"] == .int(2))
    }

    @Test func resumingChecksTheSettingsBothWays() throws {
        let dir = TempDir()
        _ = try Self.run(dir.file("plain"), Self.settings())
        var topK = Self.settings()
        topK.score.sampling.topK = 5
        // A run without top-k resumed with it, and the other way round.
        #expect(Self.message { _ = try Self.run(dir.file("plain"), topK, resume: true) }.contains("other settings (top_k)"))
        _ = try Self.run(dir.file("topk"), topK)
        #expect(Self.message { _ = try Self.run(dir.file("topk"), Self.settings(), resume: true) }.contains("other settings (top_k)"))
        var more = Self.settings()
        more.stepsPerStage = 2
        let resumed = try Self.run(dir.file("plain"), more, resume: true)
        // The run was in Stage II: only its steps grow (2 steps then 1 more).
        #expect(resumed.resumedAtStep == 2 && resumed.state.step == 3 && resumed.state.phase == 2)
        #expect(Self.message { _ = try Self.run(dir.file("plain"), more) }.contains("already holds a run; pass resume to continue it"))
        #expect(Self.message { _ = try Self.run(dir.file("none"), more, resume: true) }.contains("resume: \(dir.file("none"))/last holds no checkpoint"))
    }

    /// Two workers of a thread group write what one process summing two shards writes; worker 1 writes nothing.
    @Test func workersOfACollectiveEqualOneProcessWithShards() throws {
        let dir = TempDir()
        var sharded = Self.settings()
        sharded.shards = 2
        var gradNorms: [Double] = []
        _ = try Self.run(dir.file("one"), sharded) { gradNorms.append($0.stats.gradNorm) }
        #expect(gradNorms.count == 2 && gradNorms.contains { $0 > 0 }, "no step moved the policy: \(gradNorms)")
        let group = ThreadGroup(size: 2)
        let errors = DataParallelTests.PerThread<String?>(2, nil)
        let out = dir.file("workers"), settings = Self.settings()
        Self.onThreads { rank in
            do { _ = try Self.run(out, settings, collective: group.worker(rank)) } catch { errors.set(rank, "\(error)") }
        }
        #expect(errors.values.allSatisfy { $0 == nil }, "\(errors.values)")
        for file in ["last/model.safetensors", "best/model.safetensors"] {
            #expect(!dir.read("one/" + file).isEmpty && dir.read("one/" + file) == dir.read("workers/" + file), "\(file) differs")
        }
    }

    static func onThreads(_ body: @escaping @Sendable (Int) -> Void) { DataParallelTests.onThreads(2, body) }
}
