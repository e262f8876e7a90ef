import CScoreABI
import SCoReRuntime

// score_*_set_collective: a host's transport (C callbacks) as the core's Collective.

final class CallbackCollective: Collective, @unchecked Sendable {
    let callbacks: score_collective
    var rank: Int { Int(callbacks.rank) }
    var size: Int { Int(callbacks.size) }

    init(_ c: score_collective) throws {
        guard c.size >= 1, c.rank >= 0, c.rank < c.size else {
            throw ScoreError.invalidArgument("collective rank \(c.rank) of size \(c.size) is out of range")
        }
        guard c.sum_f32 != nil, c.sum_f64 != nil, c.broadcast != nil else {
            throw ScoreError.invalidArgument("collective needs sum_f32, sum_f64 and broadcast")
        }
        callbacks = c
    }

    private func check(_ status: Int32, _ what: String) throws {
        guard status == 0 else { throw ScoreError.io("the host's collective \(what) returned \(status) on worker \(rank)") }
    }

    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try check(callbacks.sum_f32!(values.baseAddress, values.count, callbacks.user_data), "sum_f32")
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try check(callbacks.sum_f64!(values.baseAddress, values.count, callbacks.user_data), "sum_f64")
    }

    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        try check(callbacks.broadcast!(bytes.baseAddress, bytes.count, Int32(root), callbacks.user_data), "broadcast")
    }

    func barrier() throws {
        guard let barrier = callbacks.barrier else { return }
        try check(barrier(callbacks.user_data), "barrier")
    }
}

/// The collective a C struct describes; NULL is a single process.
func collective(_ pointer: UnsafePointer<score_collective>?) throws -> Collective {
    guard let pointer else { return SingleProcess.shared }
    let c = try readParams(pointer, defaults: score_collective(), structSize: { $0.struct_size }, function: "set_collective")
    return c.size == 1 && c.sum_f32 == nil ? SingleProcess.shared : try CallbackCollective(c)
}

@c @implementation
public func score_rl_trainer_set_collective(_ trainer: OpaquePointer?, _ c: UnsafePointer<score_collective>?) -> score_status {
    boundary("score_rl_trainer_set_collective") {
        let t = try unboxRLTrainer(trainer)
        t.collective = try collective(c)
    }
}

@c @implementation
public func score_rl_trainer_set_shards(_ trainer: OpaquePointer?, _ shards: Int32) -> score_status {
    boundary("score_rl_trainer_set_shards") {
        let t = try unboxRLTrainer(trainer)
        guard shards >= 1, shards <= 65536 else { throw ScoreError.invalidArgument("shards \(shards) must be in 1...65536") }
        t.emulatedWorkers = Int(shards)
    }
}

@c @implementation
public func score_trainer_set_collective(_ trainer: OpaquePointer?, _ c: UnsafePointer<score_collective>?) -> score_status {
    boundary("score_trainer_set_collective") {
        try unboxTrainer(trainer).collective = try collective(c)
    }
}
