#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

/// Paths and helpers shared by the tests.
enum Fixtures {
    static let root: String = {
        let file = #filePath
        let testsDir = file.split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/")
        return testsDir + "/Fixtures/models"
    }()

    static func model(_ name: String) -> String { root + "/" + name }

    static let allModels = ["llama-gqa", "llama3-rope-tied", "mistral-swa", "qwen2", "qwen3", "qwen2-bf16", "llama-sharded-f16"]
}

/// The outputs transformers recorded for one fixture model.
struct Reference {
    let file: SafetensorsFile

    init(model name: String) throws {
        file = try SafetensorsFile(path: Fixtures.model(name) + "/reference.safetensors")
    }

    func has(_ name: String) -> Bool { file.entries[name] != nil }

    func int32s(_ name: String) -> [Int32] {
        let e = file.entries[name]!
        precondition(e.type == .i32)
        let raw = file.bytes(of: e)
        return (0..<e.elementCount).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self) }
    }

    func floats(_ name: String) -> [Float] {
        let e = file.entries[name]!
        precondition(e.type == .f32)
        let raw = file.bytes(of: e)
        return (0..<e.elementCount).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
    }

    var sequenceCount: Int { (0..<100).first { !has("tokens.\($0)") } ?? 0 }
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var m: Float = 0
    for i in a.indices { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// A scratch directory removed on deinit.
final class TempDir {
    let path: String

    init() {
        var template = Array("/tmp/libscore-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }

    deinit { _ = system("rm -rf '\(path)'") }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ bytes: [UInt8]) {
        let f = fopen(file(name), "wb")!
        _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }

    func write(_ name: String, _ text: String) { write(name, Array(text.utf8)) }

    /// Copies every file of a fixture model here.
    func copyModel(_ name: String) {
        _ = system("cp '\(Fixtures.model(name))'/* '\(path)'/")
    }

    func read(_ name: String) -> [UInt8] { (try? Files.readAll(file(name))) ?? [] }
}

/// A safetensors file built in memory: header JSON text + data bytes.
func safetensors(header: String, data: [UInt8]) -> [UInt8] {
    let h = Array(header.utf8)
    var out: [UInt8] = []
    var n = UInt64(h.count)
    for _ in 0..<8 { out.append(UInt8(n & 0xFF)); n >>= 8 }
    return out + h + data
}
