import CScoreABI
import SCoReRuntime

// score_verify and score_evaluate: the built-in verifiers and the
// self-correction metrics of greedy attempts.

/// The verifier a SCORE_VERIFY_* id names; the core checks the tolerance.
func verifier(kind: Int32, tolerance: Double) throws -> Verifier {
    let names: [Int32: String] = [Int32(SCORE_VERIFY_EXACT): "exact", Int32(SCORE_VERIFY_NUMERIC): "numeric",
                                  Int32(SCORE_VERIFY_MATH): "math"]
    guard let name = names[kind] else {
        throw ScoreError.invalidArgument("verifier kind \(kind) is not SCORE_VERIFY_EXACT, NUMERIC or MATH")
    }
    return try Verifier.parse(name, tolerance: tolerance)
}

@c @implementation
public func score_verify(_ kind: Int32, _ tolerance: Double, _ attempt: UnsafePointer<CChar>?,
                         _ reference: UnsafePointer<CChar>?, _ reward: UnsafeMutablePointer<Float>?) -> score_status {
    boundary("score_verify") {
        let v = try verifier(kind: kind, tolerance: tolerance)
        let a = try String(argument: attempt, name: "attempt")
        let r = try String(argument: reference, name: "reference")
        guard let reward else { throw ScoreError.invalidArgument("reward is NULL") }
        reward.pointee = v.reward(attempt: a, reference: r)
    }
}

@c @implementation
public func score_eval_params_default() -> score_eval_params {
    score_eval_params(struct_size: UInt32(MemoryLayout<score_eval_params>.size), attempts: 2, max_new_tokens: 256,
                      verifier: Int32(SCORE_VERIFY_MATH), tolerance: 1e-6,
                      instruction: nil, task_prompt: nil, system_prompt: nil, progress: nil, progress_user_data: nil)
}

@c @implementation
public func score_evaluate(_ model: OpaquePointer?, _ params: UnsafePointer<score_eval_params>?,
                           _ problems: UnsafePointer<UnsafePointer<CChar>?>?,
                           _ references: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int, _ rewardFn: score_reward_fn?,
                           _ userData: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<score_eval_result>?) -> score_status {
    boundary("score_evaluate") {
        let m = try unbox(model)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        let size = try outputSize(out, name: "out")!
        let p = try readParams(params, defaults: score_eval_params_default(), structSize: { $0.struct_size }, function: "score_evaluate")
        guard p.attempts >= 1, p.attempts <= maxTurns else {
            throw ScoreError.invalidArgument("attempts \(p.attempts) must be in 1...\(maxTurns) (SCORE_RL_MAX_TURNS)")
        }
        guard p.max_new_tokens >= 0 else { throw ScoreError.invalidArgument("max_new_tokens \(p.max_new_tokens) is negative") }
        let builtIn = try verifier(kind: p.verifier, tolerance: p.tolerance)
        guard n > 0 else { throw ScoreError.invalidArgument("n is 0: no problems") }
        let texts = try cStrings(problems, count: n, name: "problems")
        let answers = try cStrings(references, count: n, name: "references")
        let format = try revisionFormat(instruction: p.instruction, taskPrompt: p.task_prompt, systemPrompt: p.system_prompt)
        var evaluator = SelfCorrectionEvaluator(model: m, format: format, maxNewTokens: Int(p.max_new_tokens),
                                                attempts: Int(p.attempts))
        evaluator.progress = progressHandler(p.progress, p.progress_user_data)
        let reward = rewardFn.map { rewardFunction($0, userData) } ?? { _, attempt, reference in
            builtIn.reward(attempt: attempt, reference: reference)
        }
        let (metrics, _) = try evaluator.evaluate(problems: texts, references: answers, reward: reward)
        var v = evalResult(metrics)
        v.struct_size = UInt32(min(size, MemoryLayout<score_eval_result>.size))
        copyPrefix(of: v, into: out, size: size)
    }
}

/// The metrics as the C struct (struct_size: the library's).
func evalResult(_ metrics: SelfCorrectionMetrics) -> score_eval_result {
    var v = score_eval_result()
    v.struct_size = UInt32(MemoryLayout<score_eval_result>.size)
    v.attempts = Int32(min(metrics.accuracy.count, maxTurns))
    v.problems = Int64(metrics.problems)
    fillTurns(&v.accuracy, metrics.accuracy)
    v.acc_t1 = metrics.accuracyT1
    v.acc_t2 = metrics.accuracyT2
    v.delta = metrics.delta
    v.delta_i_to_c = metrics.incorrectToCorrect
    v.delta_c_to_i = metrics.correctToIncorrect
    v.answer_changed = metrics.answerChanged
    v.edit_distance_ratio = metrics.editDistanceRatio
    return v
}
