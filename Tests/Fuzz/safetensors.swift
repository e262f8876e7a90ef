// safetensors header and data layout (IO/Safetensors.swift). The file is read
// into malloc'd memory (mapped: false) so ASan sees any read outside it.
@testable import SCoReRuntime

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let path = Fuzz.write("model.safetensors", UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafetensorsFile(path: path, mapped: false) else { return 0 }
    var sum = 0
    for entry in file.entries.values {
        let bytes = file.bytes(of: entry)
        precondition(bytes.count == entry.elementCount * entry.type.byteSize)
        if let first = bytes.first, let last = bytes.last { sum &+= Int(first) &+ Int(last) }
    }
    _ = sum
    return 0
}
