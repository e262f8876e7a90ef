// config.json and generation_config.json (Model/ModelConfig.swift) as
// ModelConfig.load reads them: the input is config.json, and, after a NUL
// byte, generation_config.json.
#if canImport(Glibc)
import Glibc
#endif
@testable import SCoReRuntime

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let (config, generation) = Fuzz.split(UnsafeBufferPointer(start: data, count: size))
    let dir = Fuzz.scratch + "/model"
    mkdir(dir, 0o700)
    Fuzz.write("config.json", config, in: dir)
    if let generation {
        Fuzz.write("generation_config.json", generation, in: dir)
    } else {
        unlink(dir + "/generation_config.json")
    }
    guard let c = try? ModelConfig.load(directory: dir) else { return 0 }
    // What the model loader derives from a config must not trap either.
    _ = (c.qDim, c.kvDim, c.eosTokenIds.count)
    return 0
}
