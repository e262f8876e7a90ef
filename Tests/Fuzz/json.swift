// JSON reader (IO/JSON.swift): any bytes are a value or an error, and what
// JSONWriter writes reads back as the same value.
@testable import SCoReRuntime

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    guard let value = try? JSON.parse(input, context: "fuzz") else { return 0 }
    for indent in [false, true] {
        guard let text = try? value.serialized(indent: indent) else { continue }
        guard let again = try? JSON.parse(text, context: "round trip") else {
            fatalError("JSONWriter wrote text the reader rejects: \(text.prefix(200))")
        }
        precondition(again == value, "round trip changed the value: \(text.prefix(200))")
    }
    return 0
}
