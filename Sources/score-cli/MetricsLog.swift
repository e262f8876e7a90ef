#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

/// The JSONL metrics log of a training command: one object per optimiser
/// step, each with a "step" field.
enum MetricsLog {
    /// A fresh log, or — resuming from a checkpoint at `step` — the existing
    /// log without the lines of steps the checkpoint does not contain (a run
    /// killed after its last save), opened for appending.
    static func open(_ path: String, resumingAt step: Int?) throws -> UnsafeMutablePointer<FILE> {
        if let step, Files.exists(path) {
            let kept = try Files.readAll(path).split(separator: UInt8(ascii: "\n")).filter { line in
                guard let json = try? JSON.parse(Array(line), context: path), let s = json["step"]?.intValue else { return false }
                return s <= step
            }
            try CorrectCommand.writeAtomically(path, kept.map { String(decoding: $0, as: UTF8.self) + "\n" }.joined())
        }
        guard let f = fopen(path, step == nil ? "w" : "a") else {
            throw ScoreError.io("\(path): cannot open: \(String(cString: strerror(errno)))")
        }
        return f
    }
}
