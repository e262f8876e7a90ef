import CScoreABI
import SCoReRuntime

// Library-wide functions: versions, status names, logging, threads.

nonisolated(unsafe) private let versionCString = UnsafePointer(strdupStatic(LibraryVersion.string))

nonisolated(unsafe) private let statusNames: [UnsafePointer<CChar>] = [
    "ok", "invalid argument", "i/o error", "malformed input", "unsupported",
    "out of memory", "buffer too small", "aborted", "internal error",
].map { UnsafePointer(strdupStatic($0)) }
nonisolated(unsafe) private let unknownStatus = UnsafePointer(strdupStatic("unknown status"))

/// A C string that lives for the whole process.
func strdupStatic(_ s: String) -> UnsafeMutablePointer<CChar> {
    let bytes = Array(s.utf8CString)
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
    p.initialize(from: bytes, count: bytes.count)
    return p
}

@c @implementation
public func score_abi_version() -> UInt32 { SCORE_ABI_VERSION }

@c @implementation
public func score_version_string() -> UnsafePointer<CChar>? { versionCString }

@c @implementation
public func score_status_string(_ status: score_status) -> UnsafePointer<CChar>? {
    status >= 0 && Int(status) < statusNames.count ? statusNames[Int(status)] : unknownStatus
}

private struct LogTarget: @unchecked Sendable {
    let fn: score_log_fn
    let userData: UnsafeMutableRawPointer?
}

@c @implementation
public func score_set_log_callback(_ fn: score_log_fn?, _ userData: UnsafeMutableRawPointer?) {
    guard let fn else {
        Log.setSink(nil)
        return
    }
    let target = LogTarget(fn: fn, userData: userData)
    Log.setSink { level, line in
        line.withCString { target.fn(level.rawValue, $0, target.userData) }
    }
}

@c @implementation
public func score_set_n_threads(_ n: Int32) -> score_status {
    boundary("score_set_n_threads") {
        guard n >= 0 else { throw ScoreError.invalidArgument("n_threads \(n) is negative") }
        try ThreadPool.configure(threads: n == 0 ? BLAS.coreCount : Int(n))
    }
}

@c @implementation
public func score_get_n_threads() -> Int32 { Int32(BLAS.threadCount) }

@c @implementation
public func score_sizeof(_ typeId: Int32) -> Int {
    switch Int(typeId) {
    case Int(SCORE_TYPE_MODEL_PARAMS): return MemoryLayout<score_model_params>.size
    case Int(SCORE_TYPE_MODEL_INFO): return MemoryLayout<score_model_info>.size
    case Int(SCORE_TYPE_SESSION_PARAMS): return MemoryLayout<score_session_params>.size
    case Int(SCORE_TYPE_GENERATE_PARAMS): return MemoryLayout<score_generate_params>.size
    case Int(SCORE_TYPE_REVISE_PARAMS): return MemoryLayout<score_revise_params>.size
    case Int(SCORE_TYPE_TRAINER_PARAMS): return MemoryLayout<score_trainer_params>.size
    case Int(SCORE_TYPE_TRAIN_STATS): return MemoryLayout<score_train_stats>.size
    case Int(SCORE_TYPE_RL_PARAMS): return MemoryLayout<score_rl_params>.size
    case Int(SCORE_TYPE_RL_STATS): return MemoryLayout<score_rl_stats>.size
    case Int(SCORE_TYPE_EVAL_PARAMS): return MemoryLayout<score_eval_params>.size
    case Int(SCORE_TYPE_EVAL_RESULT): return MemoryLayout<score_eval_result>.size
    case Int(SCORE_TYPE_COLLECTIVE): return MemoryLayout<score_collective>.size
    case Int(SCORE_TYPE_RL_RECIPE_PARAMS): return MemoryLayout<score_rl_recipe_params>.size
    case Int(SCORE_TYPE_RL_RECIPE_STEP): return MemoryLayout<score_rl_recipe_step>.size
    case Int(SCORE_TYPE_RL_RECIPE_RESULT): return MemoryLayout<score_rl_recipe_result>.size
    default: return 0
    }
}

@c @implementation
public func score_system_info(_ buf: UnsafeMutablePointer<CChar>?, _ cap: Int, _ needed: UnsafeMutablePointer<Int>?) -> score_status {
    bufferBoundary("score_system_info") {
        let bytes = Array(try JSON.object(SystemInfo.fields).serialized(indent: false).utf8)
        guard try checkBuffer(buf, capacity: cap, required: bytes.count + 1, needed: needed, what: "system info") else { return }
        bytes.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { UnsafeMutableRawPointer(buf!).copyMemory(from: base, byteCount: src.count) }
        }
        buf![bytes.count] = 0
    }
}
