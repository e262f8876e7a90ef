#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime
import SCoReDemo

/// The demo's pieces on a tiny budget: the files it writes are a loadable
/// model with a working tokenizer and chat template, the task's split is
/// disjoint, the student's slips are what the README says, and the whole
/// pipeline runs end to end with consistent metrics.
@Suite struct DemoPipelineTests {
    static func scratch(_ name: String) -> String {
        let dir = "/tmp/libscore-demo-test-\(getpid())-\(name)"
        return dir
    }

    @Test func toyModelFilesLoadAndTokenizeCharacters() throws {
        let dir = Self.scratch("files")
        try ToyModelFiles().write(to: dir, seed: 3)
        let model = try Model.load(directory: dir)
        let tokenizer = try #require(model.tokenizer)
        let ids = try tokenizer.encode("<|im_start|>user\n47+38<|im_end|>", addSpecialTokens: false, parseSpecial: true)
        // turn start, "user", "\n", 4, 7, +, 3, 8, turn end: characters one token each, roles one token.
        #expect(ids.count == 9)
        #expect(ids.first == 0 && ids.last == 1)
        #expect(try tokenizer.decode(Array(ids[3..<8]), skipSpecialTokens: true) == "47+38")
        let rendered = try ChatTemplate.load(directory: dir).render(messages: [ChatMessage(role: "user", content: "1+2")], addGenerationPrompt: true)
        #expect(rendered == "<|im_start|>user\n1+2<|im_end|>\n<|im_start|>assistant\n")
        // Same seed, same weights; another seed, other weights.
        let again = Self.scratch("files-again"), other = Self.scratch("files-other")
        try ToyModelFiles().write(to: again, seed: 3)
        try ToyModelFiles().write(to: other, seed: 4)
        let lp = try model.logProbs(tokens: ids)
        #expect(try Model.load(directory: again).logProbs(tokens: ids) == lp)
        #expect(try Model.load(directory: other).logProbs(tokens: ids) != lp)
    }

    @Test func carryTaskSplitAndStudentHabit() {
        let task = CarryTask(slipRate: 0.9, fixRate: 0.3, breakRate: 0.05)
        let (train, eval) = task.split(heldOut: 200, seed: 1)
        #expect(eval.count == 200 && train.count == 90 * 90 - 200)
        #expect(Set(train.map(\.text)).isDisjoint(with: Set(eval.map(\.text))))
        var rng = TrainingRNG(seed: 9)
        var slips = 0, carries = 0, fixes = 0, breaks = 0, right = 0
        for p in train.prefix(6000) {
            let (first, second) = task.studentConversation(p, rng: &rng)
            if !p.carries { #expect(first == p.reference) }
            else {
                carries += 1
                if first == String(p.answer - 10) { slips += 1 } else { #expect(first == p.reference) }
            }
            if first == p.reference {
                right += 1
                if second != first { breaks += 1; #expect(second == String(p.answer + 10)) }
            } else if second != first {
                fixes += 1
                #expect(second == p.reference)
            }
        }
        let rate = Double(slips) / Double(carries)
        #expect(abs(rate - 0.9) < 0.03, "slip rate \(rate)")
        #expect(abs(Double(fixes) / Double(slips) - 0.3) < 0.04, "fix rate")
        #expect(abs(Double(breaks) / Double(right) - 0.05) < 0.015, "break rate")
        #expect(CarryTask.reward(attempt: "85", reference: "85") == 1)
        #expect(CarryTask.reward(attempt: "75", reference: "85") == 0)
    }

    @Test func pairSumTaskProblemsVerifierAndStudent() {
        let task = PairSumTask(count: 5, slipRate: 0.3)
        let (eval, excluded) = task.split(heldOut: 50, seed: 2)
        #expect(eval.count == 50 && excluded.count == 50)
        var rng = TrainingRNG(seed: 5)
        var slips = 0
        for _ in 0..<2000 {
            let p = task.trainingProblem(rng: &rng, excluding: excluded)
            #expect(!excluded.contains(p.text))
            #expect(Set(p.numbers).count == 5)
            // Exactly one pair reaches the target, and the reference is it.
            var pairs = 0
            for i in 0..<5 { for j in (i + 1)..<5 where p.numbers[i] + p.numbers[j] == p.target { pairs += 1 } }
            #expect(pairs == 1)
            #expect(PairSumTask.reward(problem: p.text, attempt: p.reference) == 1)
            let answer = task.studentAnswer(p, rng: &rng)
            if PairSumTask.reward(problem: p.text, attempt: answer) == 0 { slips += 1 }
        }
        #expect(abs(Double(slips) / 2000 - 0.3) < 0.04)
        let problem = "3 8 1 7 4 : 11"
        #expect(PairSumTask.reward(problem: problem, attempt: "3+8") == 1)
        #expect(PairSumTask.reward(problem: problem, attempt: "8+3") == 1)
        #expect(PairSumTask.reward(problem: problem, attempt: "7+4") == 1)   // any pair from the list that adds up
        #expect(PairSumTask.reward(problem: problem, attempt: "3+7") == 0)   // adds to 10
        #expect(PairSumTask.reward(problem: problem, attempt: "5+6") == 0)   // not in the list
        #expect(PairSumTask.reward(problem: "3 8 1 7 4 : 6", attempt: "3+3") == 0)  // one 3 only
        #expect(PairSumTask.reward(problem: problem, attempt: "3+8+0") == 0)
        #expect(PairSumTask.reward(problem: problem, attempt: "") == 0)
        #expect(PairSumTask.reward(problem: "garbage", attempt: "3+8") == 0)
    }

    /// The demo on a budget of seconds: a one-layer, 32-wide model, 12 held-out problems.
    static func tinySettings(_ name: String) -> DemoSettings {
        var s = DemoSettings()
        s.workDirectory = scratch(name)
        s.heldOut = 12
        s.model.hiddenSize = 32
        s.model.layers = 1
        s.model.heads = 2
        s.model.intermediateSize = 64
        s.sftSteps = 3
        s.sftBatch = 4
        return s
    }

    /// A warm start that misses its band stops the demo before any RL.
    @Test func aFailedWarmStartStopsTheDemo() throws {
        var s = Self.tinySettings("premise")
        s.sftSteps = 2
        var rlSteps = 0
        #expect {
            _ = try DemoRun(settings: s).run { if case .rl = $0 { rlSteps += 1 } }
        } throws: { error in
            "\(error)".contains("the warm start reached Acc@t1") && "\(error)".contains("outside its band")
        }
        #expect(rlSteps == 0)
    }

    @Test func pipelineRunsEndToEndOnATinyBudget() throws {
        var s = Self.tinySettings("run")
        s.stageOneSteps = 1
        s.stageTwoSteps = 1
        s.problemsPerStep = 2
        s.samplesPerProblem = 2
        s.sftTargetAccuracy = 1
        s.checkPremises = false  // no premise holds on this budget
        s.ablations = DemoAblation.allCases
        var phases: [String] = [], rlSteps = 0
        let result = try DemoRun(settings: s).run { event in
            switch event {
            case .phase(let p): phases.append(p)
            case .rl: rlSteps += 1
            default: break
            }
        }
        // 1 + 1 SCoRe steps; the same budget (2) for single-turn and without Stage I; 1 Stage II step
        // for the two ablations that branch from the Stage I checkpoint.
        #expect(rlSteps == 2 + 2 + 2 + 1 + 1)
        #expect(phases.count == 8)
        #expect(result.ablations.map(\.0) == DemoAblation.allCases)
        for m in [result.base, result.stageOne, result.stageTwo, try #require(result.singleTurn)] + result.ablations.map(\.1) {
            #expect(m.problems == 12)
            #expect(abs(m.delta - (m.incorrectToCorrect - m.correctToIncorrect)) < 1e-12)
        }
        #expect(Files.exists(s.workDirectory + "/sft/model.safetensors"))
    }
}
