import Testing
import SCoReRuntime

/// Each test pins down a mistake public SCoRe reimplementations make.
@Suite struct SCoReMethodTests {
    /// A rollout of `prompt` + attempt 1 + `glue` + attempt 2 tokens (ids are arbitrary).
    static func rollout(problem: Int, sample: Int, prompt: Int = 5, first: Int = 3, glue: Int = 4, second: Int = 2) -> Rollout {
        let total = prompt + first + glue + second
        let tokens = (0..<total).map { Int32($0 % 50 + 1) }
        let a1 = prompt..<(prompt + first), a2 = (prompt + first + glue)..<total
        func attempt(_ r: Range<Int>) -> Attempt {
            Attempt(tokens: Array(tokens[r]), logProbs: [Float](repeating: -1, count: r.count), finishReason: .stopToken, text: "")
        }
        var mask = [UInt8](repeating: 0, count: total)
        for i in a1 { mask[i] = 1 }
        for i in a2 { mask[i] = 1 }
        return Rollout(problem: problem, sample: sample, promptTokens: Array(tokens[..<prompt]), attempts: [attempt(a1), attempt(a2)],
                       sequence: tokens, lossMask: mask, attemptRanges: [a1, a2])
    }

    @Test func shapedRewardsOfTheFourTransitions() {
        // (r1, r2) → attempt 2's reward with α = 10: wrong→right 11, right→right 1, wrong→wrong 0, right→wrong −10.
        let cases: [([Float], Float)] = [([0, 1], 11), ([1, 1], 1), ([0, 0], 0), ([1, 0], -10)]
        for (r, expected) in cases {
            let shaped = TurnRewards.shaped(r, stage: .two, alpha: 10)
            #expect(shaped == [r[0], expected], "\(r)")
        }
        // Stage I rewards the last attempt only.
        #expect(TurnRewards.shaped([1, 0], stage: .one, alpha: 10) == [0, 0])
        #expect(TurnRewards.shaped([0, 1], stage: .one, alpha: 10) == [0, 1])
        // Without shaping (α = 0) each attempt gets its own reward.
        #expect(TurnRewards.shaped([1, 0], stage: .two, alpha: 0) == [1, 0])
        // N = 3: every later attempt is shaped against the one before it.
        #expect(TurnRewards.shaped([0, 1, 1], stage: .two, alpha: 10) == [0, 11, 1])
    }

    @Test func leaveOneOutBaselineByHand() throws {
        // R = [1, 0, 0, 1]: A_0 = 1 − (0+0+1)/3 = 2/3, A_1 = 0 − 2/3, A_2 = −2/3, A_3 = 1 − 1/3.
        let a = try TurnRewards.leaveOneOut([1, 0, 0, 1])
        for (x, e) in zip(a, [2.0 / 3, -2.0 / 3, -2.0 / 3, 2.0 / 3] as [Float]) { #expect(abs(x - e) < 1e-6) }
        let b = try TurnRewards.leaveOneOut([11, 1, 0, -10])
        for (x, e) in zip(b, [11 - (-9.0 / 3), 1 - 1.0 / 3, 0 - 2.0 / 3, -10 - 12.0 / 3] as [Float]) { #expect(abs(x - e) < 1e-5) }
        // Equal rewards carry no signal.
        #expect(try TurnRewards.leaveOneOut([1, 1, 1]) == [0, 0, 0])
        // k = 1 has no baseline: rejected, not silently plain REINFORCE.
        #expect(throws: ScoreError.self) { try TurnRewards.leaveOneOut([1]) }
        var config = SCoReConfig()
        config.samplesPerProblem = 1
        #expect(throws: ScoreError.self) { try config.validate() }
    }

    @Test func attemptOneNeverReceivesAttemptTwosReward() throws {
        // Same r(y1) for both samples, different r(y2): attempt 1's advantage
        // is 0 in both stages; only attempt 2's tokens carry the difference.
        let rollouts = [Self.rollout(problem: 0, sample: 0), Self.rollout(problem: 0, sample: 1)]
        let rewards: [[Float]] = [[0, 1], [0, 0]]
        for stage in [SCoReStage.one, .two] {
            let seqs = try SCoReObjective(stage: stage).sequences(rollouts: rollouts, rewards: rewards, attempts: 2)
            for (s, r) in zip(seqs, rollouts) {
                for p in r.attemptRanges[0] { #expect(s.weights![p] == 0, "stage \(stage): attempt-1 token \(p)") }
            }
            // Attempt 2: shaped 11 vs 0 in Stage II (A = ±11), 1 vs 0 in Stage I (A = ±1).
            let expected: Float = stage == .two ? 11 : 1
            for p in rollouts[0].attemptRanges[1] { #expect(seqs[0].weights![p] == expected) }
            for p in rollouts[1].attemptRanges[1] { #expect(seqs[1].weights![p] == -expected) }
        }
        // And attempt 1's own reward reaches attempt 1 only.
        let seqs = try SCoReObjective(stage: .two).sequences(rollouts: rollouts, rewards: [[1, 1], [0, 1]], attempts: 2)
        for p in rollouts[0].attemptRanges[0] { #expect(seqs[0].weights![p] == 1) }
        // Attempt 2: 1 (right→right) vs 11 (wrong→right).
        for p in rollouts[0].attemptRanges[1] { #expect(seqs[0].weights![p] == -10) }
    }

    @Test func stageOnePinsAttemptOneWithBetaTwoOnly() throws {
        let rollouts = [Self.rollout(problem: 0, sample: 0), Self.rollout(problem: 0, sample: 1)]
        let one = try SCoReObjective(stage: .one, beta1: 0.01, beta2: 0.25).sequences(rollouts: rollouts, rewards: [[0, 1], [1, 0]], attempts: 2)
        let two = try SCoReObjective(stage: .two, beta1: 0.01, beta2: 0.25).sequences(rollouts: rollouts, rewards: [[0, 1], [1, 0]], attempts: 2)
        for (s, r) in zip(one, rollouts) {
            for p in 0..<r.sequence.count {
                let inFirst = r.attemptRanges[0].contains(p), inSecond = r.attemptRanges[1].contains(p)
                #expect(s.mask[p] == (inFirst || inSecond ? 1 : 0), "prompt and instruction tokens are not trained on")
                #expect(s.klWeights![p] == (inFirst ? 0.25 : inSecond ? 0.01 : 0))
            }
        }
        for (s, r) in zip(two, rollouts) {
            for p in r.attemptRanges[0] { #expect(s.klWeights![p] == 0.01) }
        }
        #expect(throws: ScoreError.self) { try SCoReObjective(stage: .one).validate(attempts: 1) }
    }

    @Test func threeAttemptsGeneraliseBothStages() throws {
        // prompt 4 | a1 2 | glue 3 | a2 2 | glue 3 | a3 2
        func rollout(_ sample: Int) -> Rollout {
            let ranges = [4..<6, 9..<11, 14..<16]
            let tokens = (0..<16).map { Int32($0 + 1) }
            let attempts = ranges.map { Attempt(tokens: Array(tokens[$0]), logProbs: [], finishReason: .stopToken, text: "") }
            return Rollout(problem: 0, sample: sample, promptTokens: Array(tokens[..<4]), attempts: attempts, sequence: tokens,
                           lossMask: [], attemptRanges: ranges)
        }
        let rollouts = [rollout(0), rollout(1)]
        let rewards: [[Float]] = [[0, 1, 1], [0, 0, 1]]
        // Stage I pins attempts 1 and 2 (β2, no reward) and rewards attempt 3 only.
        let one = try SCoReObjective(stage: .one, beta1: 0.01, beta2: 0.1).sequences(rollouts: rollouts, rewards: rewards, attempts: 3)
        for s in one {
            #expect([4, 5, 9, 10].allSatisfy { s.klWeights![$0] == 0.1 && s.weights![$0] == 0 })
            #expect([14, 15].allSatisfy { s.klWeights![$0] == 0.01 && s.weights![$0] == 0 })  // both r(y3) = 1: no signal
        }
        // Stage II: turn rewards (0, 11, 1) and (0, 0, 11); leave-one-out per turn.
        let two = try SCoReObjective(stage: .two).sequences(rollouts: rollouts, rewards: rewards, attempts: 3)
        #expect(two[0].weights![4] == 0 && two[0].weights![9] == 11 && two[0].weights![14] == -10)
        #expect(two[1].weights![4] == 0 && two[1].weights![9] == -11 && two[1].weights![14] == 10)
    }

    @Test func filteredSFTTrainsOnAcceptedAttemptsOnly() throws {
        let rollouts = [Self.rollout(problem: 0, sample: 0), Self.rollout(problem: 0, sample: 1)]
        let seqs = try SCoReObjective(stage: .two, update: .filteredSFT).sequences(rollouts: rollouts, rewards: [[0, 1], [1, 0]], attempts: 2)
        #expect(rollouts[0].attemptRanges[0].allSatisfy { seqs[0].weights![$0] == 0 })
        #expect(rollouts[0].attemptRanges[1].allSatisfy { seqs[0].weights![$0] == 1 })
        #expect(rollouts[1].attemptRanges[0].allSatisfy { seqs[1].weights![$0] == 1 })
        #expect(rollouts[1].attemptRanges[1].allSatisfy { seqs[1].weights![$0] == 0 })
    }

    // MARK: the objective's value and gradient against PyTorch

    static let fixtureRoot = String(Fixtures.root.dropLast("models".count)) + "training/score"

    /// Policy = qwen2, reference = its sibling qwen2-bf16 (different weights:
    /// the KL compares two policies, never a model with itself).
    @Test(arguments: [("stage1_k3", SCoReStage.one, KLEstimator.k3), ("stage2_k3", .two, .k3), ("stage2_exact", .two, .exact)])
    func policyGradientStepMatchesPyTorch(case name: String, stage: SCoReStage, estimator: KLEstimator) throws {
        let file = try SafetensorsFile(path: Self.fixtureRoot + "/expected.safetensors")
        func floats(_ n: String) -> [Float] {
            let e = file.entries[n]!, raw = file.bytes(of: e)
            return (0..<e.elementCount).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
        }
        func ints(_ n: String) -> [Int32] {
            let e = file.entries[n]!, raw = file.bytes(of: e)
            return (0..<e.elementCount).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self) }
        }
        let problems = ints("rollout.problem"), flatRewards = floats("rollout.rewards")
        var rollouts: [Rollout] = [], rewards: [[Float]] = []
        for i in 0..<problems.count {
            let tokens = ints("rollout.tokens.\(i)"), r = ints("rollout.ranges.\(i)").map(Int.init)
            let ranges = [r[0]..<r[1], r[2]..<r[3]]
            let attempts = ranges.map { Attempt(tokens: Array(tokens[$0]), logProbs: [], finishReason: .stopToken, text: "") }
            rollouts.append(Rollout(problem: Int(problems[i]), sample: i, promptTokens: Array(tokens[..<r[0]]), attempts: attempts,
                                    sequence: tokens, lossMask: [], attemptRanges: ranges))
            rewards.append([flatRewards[2 * i], flatRewards[2 * i + 1]])
        }
        let objective = SCoReObjective(stage: stage, alpha: 10, beta1: 0.01, beta2: 0.1)
        let sequences = try objective.sequences(rollouts: rollouts, rewards: rewards, attempts: 2)
        // The advantages libscore assigns are the ones PyTorch computed.
        let advantages = floats("\(name).advantages")
        for (i, (s, r)) in zip(sequences, rollouts).enumerated() {
            for t in 0..<2 { #expect(abs(s.weights![r.attemptRanges[t].lowerBound] - advantages[2 * i + t]) < 1e-5) }
        }
        // Reference = the sibling's frozen weights; policy = qwen2's weights in the trainable copy.
        let trainable = try TrainableModel(model: try Model.load(directory: Fixtures.model("qwen2-bf16")), parameters: .full)
        let policy = try TrainableModel(model: try Model.load(directory: Fixtures.model("qwen2")), parameters: .full)
        trainable.values.pointer.update(from: policy.values.pointer, count: policy.values.count)
        let eval = try trainable.accumulate(sequences, objective: Objective(aggregation: .sequenceSum, klEstimator: estimator))
        let expected = floats("\(name).loss")[0]
        #expect(abs(Float(eval.loss) - expected) <= 1e-4 * max(abs(expected), 1), "\(name): loss \(eval.loss) vs \(expected)")
        #expect(eval.kl > 0, "policy and reference differ: the KL must be positive")
        for n in file.entries.keys.filter({ $0.hasPrefix("\(name).grad.") }).sorted() {
            let param = String(n.dropFirst("\(name).grad.".count))
            let grad = try #require(trainable.gradient(param))
            let e = relativeError(grad, floats(n))
            #expect(e <= 1e-4, "\(name) \(param): relative error \(e)")
            #expect(grad.contains { $0 != 0 })
        }
    }

    // MARK: rollouts

    @Test func rolloutsAreSampledAndAttemptTwoSeesTheWholeConversation() throws {
        let dir = Fixtures.model("qwen2-chat")
        let model = try Model.load(directory: dir)
        var config = SCoReConfig()
        config.samplesPerProblem = 4
        config.maxNewTokens = 6
        config.format = RevisionFormat(instruction: "Please check it again.")
        let trainer = try SCoReTrainer(model: model, config: config)
        let problems = ["What is 2+3?", "Name a colour."]
        let rollouts = try trainer.rollout(problems: problems)
        #expect(rollouts.count == 8)
        let tokenizer = try #require(model.tokenizer)
        let loop = try RevisionLoop(model: model, codec: tokenizer, template: ChatTemplate.load(directory: dir), format: config.format)
        for r in rollouts {
            #expect(r.attempts.count == 2)
            let prompt = try loop.promptTokens(problems[r.problem])
            #expect(Array(r.sequence.prefix(prompt.count)) == prompt, "attempt 1 starts from the problem")
            // Attempt 2's context: the problem, attempt 1's own tokens, then the instruction turn.
            let a1 = r.attemptRanges[0], a2 = r.attemptRanges[1]
            #expect(a1.lowerBound == prompt.count)
            #expect(Array(r.sequence[a1]) == r.attempts[0].tokens)
            #expect(Array(r.sequence[a2]) == r.attempts[1].tokens)
            let between = try tokenizer.decode(Array(r.sequence[a1.upperBound..<a2.lowerBound]), skipSpecialTokens: false)
            #expect(between.contains("Please check it again."))
            #expect(try tokenizer.decode(Array(r.sequence[..<prompt.count]), skipSpecialTokens: false).contains(problems[r.problem]))
        }
        // Samples, not argmax: the k samples of a problem differ, and differ from greedy decoding.
        let greedy = try loop.run(problems: problems, samples: 1, attempts: 1, params: GenerationParams(maxNewTokens: 6, sampling: .greedy))
        var differsFromGreedy = 0
        for r in rollouts where r.attempts[0].tokens != greedy[r.problem].attempts[0].tokens { differsFromGreedy += 1 }
        #expect(differsFromGreedy > 0)
        #expect(Set(rollouts.filter { $0.problem == 0 }.map { $0.attempts[0].tokens }).count > 1)
        // Greedy rollouts are refused.
        trainer.config.sampling.temperature = 0
        #expect(throws: ScoreError.self) { try trainer.rollout(problems: problems) }
    }

    @Test func stepUpdatesThePolicyThatTheNextRolloutSamples() throws {
        let model = try Model.load(directory: Fixtures.model("qwen2-chat"))
        var config = SCoReConfig()
        config.samplesPerProblem = 2
        config.maxNewTokens = 4
        var training = TrainerConfig.scoreDefaults()
        training.optimizer.learningRate = 1e-3
        let trainer = try SCoReTrainer(model: model, config: config, training: training)
        let before = try trainer.policyModel.logProbs(tokens: [1, 2, 3, 4])
        // A reward that prefers longer attempts makes the advantages non-zero.
        let stats = try trainer.step(problems: ["a", "b"], references: ["", ""]) { _, attempt, _ in Float(attempt.count % 3) }
        #expect(stats.rewardPerTurn.count == 2 && stats.klPerTurn.count == 2 && stats.zeroSignalFraction.count == 2)
        #expect(stats.rollouts == 4 && stats.generatedTokens > 0)
        #expect(stats.step == 1)
        let after = try trainer.policyModel.logProbs(tokens: [1, 2, 3, 4])
        #expect(before != after, "rollouts after a step sample from the updated weights")
        // The reference (base) model itself is untouched.
        #expect(try model.logProbs(tokens: [1, 2, 3, 4]) == before)
    }
}
