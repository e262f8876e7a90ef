// model.safetensors.index.json (IO/WeightFiles.swift): the input is the
// index, over the five real shards of Tests/Fixtures/models/llama-sharded-f16.
#if canImport(Glibc)
import Glibc
#endif
@testable import SCoReRuntime

let weightsDir: String = {
    let dir = Fuzz.scratch + "/sharded"
    mkdir(dir, 0o700)
    let fixture = Fuzz.repo + "/Tests/Fixtures/models/llama-sharded-f16"
    for i in 1...5 {
        let shard = "model-0000\(i)-of-00005.safetensors"
        Fuzz.copy(fixture + "/" + shard, to: dir, name: shard)
    }
    return dir
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWeights(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    Fuzz.write("model.safetensors.index.json", UnsafeBufferPointer(start: data, count: size), in: weightsDir)
    guard let weights = try? WeightFiles(directory: weightsDir, mapped: false) else { return 0 }
    for name in weights.names {
        guard let (file, entry) = weights.entry(name) else { fatalError("listed name \(name) has no entry") }
        _ = file.bytes(of: entry).last
    }
    return 0
}
