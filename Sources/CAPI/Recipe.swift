import CScoreABI
import SCoReRuntime

// score_rl_run_recipe: the core's SCoRe recipe (SCoReRecipe) in one call.
// Everything here is translation: params to settings, C callbacks to
// closures, the step report and the result to C structs.

@c @implementation
public func score_rl_recipe_params_default() -> score_rl_recipe_params {
    let s = SCoReRecipeSettings()
    return score_rl_recipe_params(
        struct_size: UInt32(MemoryLayout<score_rl_recipe_params>.size), stage: Int32(SCORE_RECIPE_BOTH),
        rounds: Int32(s.rounds), steps_per_stage: Int32(s.stepsPerStage), problems_per_step: Int32(s.problemsPerStep),
        save_every: Int32(s.saveEvery), eval_every: 0, anchor_to_stage1: s.anchorStageTwoToStageOne, seed: s.seed,
        shards: Int32(s.shards), verifier: Int32(SCORE_VERIFY_MATH), tolerance: 1e-6, rl: nil, collective: nil,
        stage1_steps: 0, stage2_steps: 0)
}

/// Checkpoint messages name what a C caller sets: the fields of the params.
private func cSettingName(_ key: String) -> String {
    let names: [String: String] = [
        "samples": "rl->samples_per_problem", "lr": "rl->training->learning_rate", "kl": "rl->training->kl_estimator",
        "update": "rl->update_rule", "reference": "anchor_to_stage1", "system": "rl->system_prompt",
        "verifier": "verifier (or reward_fn)", "lora_rank": "rl->training->lora_rank",
        "lora_alpha": "rl->training->lora_alpha", "lora_targets": "rl->training->lora_targets",
        "problems": "n (another number of problems)", "resume": "resume = true", "out": "out_dir",
    ]
    if let name = names[key] { return name }
    let ownFields: Set<String> = ["stage", "problems_per_step", "seed", "tolerance"]
    return ownFields.contains(key) ? key : "rl->" + key
}

/// The core's settings from C params; every value is checked.
private func recipeSettings(_ p: score_rl_recipe_params) throws -> SCoReRecipeSettings {
    var s = SCoReRecipeSettings()
    switch Int(p.stage) {
    case Int(SCORE_RECIPE_BOTH): s.stages = .both
    case Int(SCORE_RECIPE_STAGE1): s.stages = .one
    case Int(SCORE_RECIPE_STAGE2): s.stages = .two
    default:
        throw ScoreError.invalidArgument("stage \(p.stage) is not SCORE_RECIPE_BOTH (0), SCORE_RECIPE_STAGE1 (1) or SCORE_RECIPE_STAGE2 (2)")
    }
    s.rounds = Int(p.rounds)
    s.stepsPerStage = Int(p.steps_per_stage)
    s.stageOneSteps = p.stage1_steps == 0 ? nil : Int(p.stage1_steps)
    s.stageTwoSteps = p.stage2_steps == 0 ? nil : Int(p.stage2_steps)
    s.problemsPerStep = Int(p.problems_per_step)
    s.saveEvery = Int(p.save_every)
    s.evalEvery = p.eval_every == 0 ? nil : Int(p.eval_every)
    s.anchorStageTwoToStageOne = p.anchor_to_stage1
    s.seed = p.seed
    s.shards = Int(p.shards)
    var rl = try readParams(p.rl, defaults: score_rl_params_default(), structSize: { $0.struct_size }, function: "score_rl_run_recipe")
    rl.stage = SCoReStage.one.rawValue  // not read: the recipe sets the stage of every phase
    s.score = try scoreConfig(rl)
    let training = try readParams(rl.training, defaults: score_rl_training_params_default(), structSize: { $0.struct_size },
                                  function: "score_rl_run_recipe")
    s.training = try trainerConfig(training)
    s.settingName = cSettingName
    return s
}

/// n problems and their answers from two C arrays.
private func problemSet(_ problems: UnsafePointer<UnsafePointer<CChar>?>?, _ answers: UnsafePointer<UnsafePointer<CChar>?>?,
                        count n: Int, names: (String, String)) throws -> ProblemSet {
    var set = ProblemSet()
    set.problems = try cStrings(problems, count: n, name: names.0)
    set.answers = try cStrings(answers, count: n, name: names.1)
    return set
}

@c @implementation
public func score_rl_run_recipe(_ model: OpaquePointer?, _ outDir: UnsafePointer<CChar>?,
                                _ problems: UnsafePointer<UnsafePointer<CChar>?>?, _ answers: UnsafePointer<UnsafePointer<CChar>?>?,
                                _ n: Int, _ evalProblems: UnsafePointer<UnsafePointer<CChar>?>?,
                                _ evalAnswers: UnsafePointer<UnsafePointer<CChar>?>?, _ nEval: Int,
                                _ params: UnsafePointer<score_rl_recipe_params>?, _ resume: Bool, _ rewardFn: score_reward_fn?,
                                _ onStep: score_rl_recipe_step_fn?, _ userData: UnsafeMutableRawPointer?,
                                _ result: UnsafeMutablePointer<score_rl_recipe_result>?) -> score_status {
    boundary("score_rl_run_recipe") {
        let m = try unbox(model)
        let out = try String(argument: outDir, name: "out_dir")
        let resultSize = try outputSize(result, name: "result")
        let p = try readParams(params, defaults: score_rl_recipe_params_default(), structSize: { $0.struct_size },
                               function: "score_rl_run_recipe")
        guard n > 0 else { throw ScoreError.invalidArgument("n is 0: no problems") }
        let data = try problemSet(problems, answers, count: n, names: ("problems", "answers"))
        let heldOut = nEval == 0 ? nil : try problemSet(evalProblems, evalAnswers, count: nEval, names: ("eval_problems", "eval_answers"))
        var settings = try recipeSettings(p)
        let reward: SCoReTrainer.RewardFunction
        if let rewardFn {
            reward = rewardFunction(rewardFn, userData)
            settings.rewardName = "callback"
        } else {
            let builtIn = try verifier(kind: p.verifier, tolerance: p.tolerance)
            settings.useVerifier(builtIn)
            reward = { _, attempt, reference in builtIn.reward(attempt: attempt, reference: reference) }
        }
        try settings.validate()
        let rl = try readParams(p.rl, defaults: score_rl_params_default(), structSize: { $0.struct_size }, function: "score_rl_run_recipe")
        let threads = try readParams(rl.training, defaults: score_rl_training_params_default(), structSize: { $0.struct_size },
                                     function: "score_rl_run_recipe").n_threads
        let workers = try collective(p.collective)
        if threads > 0 { try ThreadPool.configure(threads: Int(threads)) }
        let recipe = try SCoReRecipe(model: m, outputDirectory: out, problems: data, heldOut: heldOut, reward: reward,
                                     settings: settings, resume: resume, collective: workers,
                                     progress: progressHandler(rl.progress, rl.progress_user_data))
        if let onStep {
            let last = recipe.lastCheckpoint
            recipe.onStep = { report in
                var stats = score_rl_stats()
                withUnsafeMutablePointer(to: &stats) { writeStats(report.stats, to: $0, size: MemoryLayout<score_rl_stats>.size) }
                let eval = report.heldOut.map(evalResult)
                let proceed = withUnsafePointer(to: stats) { statsPointer in
                    withUnsafePointer(to: eval ?? score_eval_result()) { evalPointer in
                        var step = score_rl_recipe_step(
                            struct_size: UInt32(MemoryLayout<score_rl_recipe_step>.size), stage: report.stage.rawValue,
                            round: Int32(clamping: report.round), step: Int64(report.step), step_in_stage: Int64(report.stepInStage),
                            total_steps: Int64(report.totalSteps), elapsed: report.elapsed, stats: statsPointer,
                            eval: eval == nil ? nil : evalPointer)
                        return onStep(&step, userData)
                    }
                }
                guard proceed else {
                    throw ScoreError.aborted("on_step stopped the run after step \(report.step); \(last) holds the last checkpoint")
                }
            }
        }
        try recipe.run()
        if let result, let resultSize {
            var v = score_rl_recipe_result()
            v.struct_size = UInt32(min(resultSize, MemoryLayout<score_rl_recipe_result>.size))
            v.steps_trained = Int64(recipe.state.step - recipe.resumedAtStep)
            v.step = Int64(recipe.state.step)
            v.best_reward = recipe.state.bestReward ?? .nan
            v.best_step = Int64(recipe.state.bestStep)
            copyPrefix(of: v, into: result, size: resultSize)
        }
    }
}
