import CScoreABI
import SCoReRuntime

#if canImport(Glibc)
import Glibc
#endif

// score_rollout_*: the generate-then-revise loop.

/// Rollouts with C-owned copies of everything handed out, stable until free.
final class RolloutBox {
    struct Episode {
        let sequence: UnsafeMutableBufferPointer<Int32>
        let mask: UnsafeMutableBufferPointer<UInt8>
        let attemptTokens: [UnsafeMutableBufferPointer<Int32>]
        let attemptLogProbs: [UnsafeMutableBufferPointer<Float>]
        let attemptTexts: [UnsafeMutablePointer<CChar>]
    }

    let rollouts: [Rollout]
    let episodes: [Episode]

    init(_ rollouts: [Rollout]) {
        self.rollouts = rollouts
        func copy<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
            let b = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, a.count))
            _ = b.initialize(from: a)
            return b
        }
        episodes = rollouts.map { r in
            Episode(sequence: copy(r.sequence), mask: copy(r.lossMask),
                    attemptTokens: r.attempts.map { copy($0.tokens) },
                    attemptLogProbs: r.attempts.map { copy($0.logProbs) },
                    attemptTexts: r.attempts.map { strdup($0.text)! })
        }
    }

    deinit {
        for e in episodes {
            e.sequence.deallocate()
            e.mask.deallocate()
            e.attemptTokens.forEach { $0.deallocate() }
            e.attemptLogProbs.forEach { $0.deallocate() }
            e.attemptTexts.forEach { free($0) }
        }
    }
}

func unboxRollout(_ handle: OpaquePointer?) throws -> RolloutBox {
    guard let handle else { throw ScoreError.invalidArgument("rollout is NULL") }
    return Unmanaged<RolloutBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

@c @implementation
public func score_revise_params_default() -> score_revise_params {
    score_revise_params(struct_size: UInt32(MemoryLayout<score_revise_params>.size), attempts: 2, samples: 1,
                        task_prompt: nil, system_prompt: nil, instruction: nil)
}

@c @implementation
public func score_rollout_run(_ session: OpaquePointer?, _ problems: UnsafePointer<UnsafePointer<CChar>?>?,
                              _ nProblems: Int, _ params: UnsafePointer<score_revise_params>?,
                              _ generate: UnsafePointer<score_generate_params>?,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> score_status {
    boundary("score_rollout_run") {
        let s = try unboxSession(session)
        guard let out else { throw ScoreError.invalidArgument("out is NULL") }
        guard nProblems > 0 else { throw ScoreError.invalidArgument("n_problems is 0") }
        guard nProblems <= 1 << 20 else { throw ScoreError.invalidArgument("n_problems \(nProblems) is absurdly large") }
        guard let problems else { throw ScoreError.invalidArgument("problems is NULL") }
        let texts = try (0..<nProblems).map { try String(argument: problems[$0], name: "problems[\($0)]") }
        let rp = try readParams(params, defaults: score_revise_params_default(), structSize: { $0.struct_size }, function: "score_rollout_run")
        let gp = try generationParams(try readParams(generate, defaults: score_generate_params_default(), structSize: { $0.struct_size }, function: "score_rollout_run"))
        var format = RevisionFormat()
        if let t = rp.task_prompt { format.taskPrompt = try String(argument: t, name: "task_prompt") }
        if let t = rp.system_prompt { format.systemPrompt = try String(argument: t, name: "system_prompt") }
        if let t = rp.instruction { format.instruction = try String(argument: t, name: "instruction") }
        let rollouts = try s.selfCorrect(problems: texts, samples: Int(rp.samples), attempts: Int(rp.attempts),
                                         format: format, params: gp)
        out.pointee = OpaquePointer(Unmanaged.passRetained(RolloutBox(rollouts)).toOpaque())
    }
}

@c @implementation
public func score_rollout_count(_ rollout: OpaquePointer?) -> Int {
    (try? unboxRollout(rollout).rollouts.count) ?? 0
}

@c @implementation
public func score_rollout_episode(_ rollout: OpaquePointer?, _ i: Int, _ problem: UnsafeMutablePointer<Int>?,
                                  _ sample: UnsafeMutablePointer<Int>?,
                                  _ sequence: UnsafeMutablePointer<UnsafePointer<Int32>?>?,
                                  _ lossMask: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                                  _ nSequence: UnsafeMutablePointer<Int>?,
                                  _ nAttempts: UnsafeMutablePointer<Int>?) -> score_status {
    boundary("score_rollout_episode") {
        let box = try unboxRollout(rollout)
        guard i >= 0, i < box.rollouts.count else {
            throw ScoreError.invalidArgument("episode \(i) is out of range (\(box.rollouts.count) episodes)")
        }
        let r = box.rollouts[i], e = box.episodes[i]
        problem?.pointee = r.problem
        sample?.pointee = r.sample
        sequence?.pointee = UnsafePointer(e.sequence.baseAddress)
        lossMask?.pointee = UnsafePointer(e.mask.baseAddress)
        nSequence?.pointee = r.sequence.count
        nAttempts?.pointee = r.attempts.count
    }
}

@c @implementation
public func score_rollout_attempt(_ rollout: OpaquePointer?, _ i: Int, _ a: Int,
                                  _ tokens: UnsafeMutablePointer<UnsafePointer<Int32>?>?,
                                  _ logprobs: UnsafeMutablePointer<UnsafePointer<Float>?>?,
                                  _ nTokens: UnsafeMutablePointer<Int>?, _ offset: UnsafeMutablePointer<Int>?,
                                  _ finishReason: UnsafeMutablePointer<Int32>?,
                                  _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> score_status {
    boundary("score_rollout_attempt") {
        let box = try unboxRollout(rollout)
        guard i >= 0, i < box.rollouts.count else {
            throw ScoreError.invalidArgument("episode \(i) is out of range (\(box.rollouts.count) episodes)")
        }
        let r = box.rollouts[i], e = box.episodes[i]
        guard a >= 0, a < r.attempts.count else {
            throw ScoreError.invalidArgument("attempt \(a) is out of range (\(r.attempts.count) attempts)")
        }
        tokens?.pointee = UnsafePointer(e.attemptTokens[a].baseAddress)
        logprobs?.pointee = UnsafePointer(e.attemptLogProbs[a].baseAddress)
        nTokens?.pointee = r.attempts[a].tokens.count
        offset?.pointee = r.attemptRanges[a].lowerBound
        finishReason?.pointee = r.attempts[a].finishReason.rawValue
        text?.pointee = UnsafePointer(e.attemptTexts[a])
    }
}

@c @implementation
public func score_rollout_free(_ rollout: OpaquePointer?) {
    guard let rollout else { return }
    Unmanaged<RolloutBox>.fromOpaque(UnsafeRawPointer(rollout)).release()
}
