// The RL data reader (Training/ProblemSet.swift: score-cli train/eval --data).
@testable import SCoReRuntime

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRLData(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let path = Fuzz.write("problems.jsonl", UnsafeBufferPointer(start: data, count: size))
    guard let set = try? ProblemSet.load(path) else { return 0 }
    precondition(set.problems.count == set.answers.count && set.rows.count == set.count)
    return 0
}
