/// Reader for the safetensors format:
///   8 bytes   little-endian u64 N, the header length
///   N bytes   JSON: { name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...} }
///   rest      the data region; offsets are relative to its start.
///
/// Every structural fault is reported with the file and tensor name: a
/// header longer than the file, offsets that overlap or run past the end,
/// a byte count that disagrees with dtype x shape, unknown dtypes.
///
/// As in the format's reference implementation (huggingface/safetensors),
/// the header is a JSON object (its first byte is '{'), names each tensor
/// once, and the tensors' data, sorted by offset, covers the data region
/// exactly: contiguous from 0, no gap, no overlap, ending at the end of the
/// file. A header length off by a byte (all data shifted), bytes after the
/// last tensor or a tensor named twice are load errors, not wrong weights.

/// Element types a safetensors file may declare.
public enum StorageType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case i64 = "I64", u64 = "U64", f64 = "F64"

    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .i64, .u64, .f64: return 8
        }
    }
}

public struct SafetensorsEntry: Sendable {
    public let name: String
    public let type: StorageType
    public let shape: [Int]
    /// Byte range inside the whole file (header included).
    public let byteRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

public final class SafetensorsFile: @unchecked Sendable {
    /// Headers beyond this are rejected before parsing (real ones are KBs to a few MB).
    public static let maxHeaderBytes = 100 << 20

    public let file: MappedFile
    public let entries: [String: SafetensorsEntry]
    public let metadata: [String: String]

    public var path: String { file.path }

    public convenience init(path: String, mapped: Bool = true) throws {
        try self.init(file: MappedFile(path: path, mapped: mapped))
    }

    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        let bytes = file.bytes
        guard bytes.count >= 8 else {
            throw ScoreError.format("\(path): truncated safetensors file (\(bytes.count) bytes, need at least 8)")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw ScoreError.format("\(path): safetensors header claims \(headerLength) bytes (limit \(Self.maxHeaderBytes))")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw ScoreError.format("\(path): safetensors header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart
        guard headerLength > 0, bytes[8] == UInt8(ascii: "{") else {
            throw ScoreError.format("\(path): safetensors header does not start with '{' (header length \(headerLength) is wrong or the file is not safetensors)")
        }
        let header = try JSON.parse(
            UnsafeBufferPointer(rebasing: bytes.bindMemory(to: UInt8.self)[8..<dataStart]),
            context: "\(path) (safetensors header)", rejectingDuplicateKeys: true)
        guard case .object(let table) = header else {
            throw ScoreError.format("\(path): safetensors header is not a JSON object")
        }

        var entries: [String: SafetensorsEntry] = [:]
        var metadata: [String: String] = [:]
        for name in table.keys {
            let value = table[name]!
            if name == "__metadata__" {
                if case .object(let m) = value {
                    for k in m.keys { if let s = m[k]?.stringValue { metadata[k] = s } }
                }
                continue
            }
            entries[name] = try Self.entry(name: name, value: value, path: path, dataStart: dataStart, dataSize: dataSize)
        }
        try Self.checkCoverage(entries.values, dataStart: dataStart, dataSize: dataSize, path: path)
        self.entries = entries
        self.metadata = metadata
    }

    private static func entry(name: String, value: JSON, path: String, dataStart: Int, dataSize: Int) throws -> SafetensorsEntry {
        func bad(_ why: String) -> ScoreError { .format("\(path): tensor '\(name)': \(why)") }
        guard let dtypeName = value["dtype"]?.stringValue else { throw bad("missing dtype") }
        guard let type = StorageType(rawValue: dtypeName) else { throw bad("unknown dtype '\(dtypeName)'") }
        guard let shapeJSON = value["shape"]?.arrayValue else { throw bad("missing shape") }
        var shape: [Int] = []
        var count = 1
        for d in shapeJSON {
            guard let v = d.int64Value, v >= 0, v < Int64(Int32.max) else { throw bad("invalid shape \(shapeJSON.map { "\($0)" })") }
            shape.append(Int(v))
            let (p, overflow) = count.multipliedReportingOverflow(by: Int(v))
            guard !overflow, p <= Int(Int64.max) / 8 else { throw bad("shape \(shape) is absurdly large") }
            count = p
        }
        guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
              let begin = offsets[0].int64Value, let end = offsets[1].int64Value else {
            throw bad("missing or invalid data_offsets")
        }
        guard begin >= 0, begin <= end else { throw bad("data_offsets [\(begin), \(end)] are reversed or negative") }
        guard end <= Int64(dataSize) else {
            throw bad("data_offsets [\(begin), \(end)] run past the end of the data (\(dataSize) bytes); the file is truncated or corrupt")
        }
        let expected = count * type.byteSize
        guard Int(end - begin) == expected else {
            throw bad("holds \(end - begin) bytes but \(dtypeName) \(shape) needs \(expected)")
        }
        return SafetensorsEntry(name: name, type: type, shape: shape,
                                byteRange: (dataStart + Int(begin))..<(dataStart + Int(end)))
    }

    /// The tensors, in offset order, must tile the data region exactly (the
    /// reference's `Metadata::validate` plus its end-of-buffer check).
    private static func checkCoverage(_ entries: some Collection<SafetensorsEntry>, dataStart: Int, dataSize: Int,
                                      path: String) throws {
        let sorted = entries.sorted {
            ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name)
        }
        // Overlaps first (they name both tensors), then gaps and the end.
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.byteRange.lowerBound < a.byteRange.upperBound {
            throw ScoreError.format("\(path): tensors '\(a.name)' and '\(b.name)' overlap in the data region")
        }
        var end = dataStart
        var previous: SafetensorsEntry? = nil
        for e in sorted {
            if e.byteRange.lowerBound > end {
                let where_ = previous.map { "after tensor '\($0.name)'" } ?? "at the start of the data region"
                throw ScoreError.format("\(path): a gap of \(e.byteRange.lowerBound - end) bytes \(where_), before tensor '\(e.name)': the tensors must cover the data region exactly (wrong header length or data_offsets?)")
            }
            end = e.byteRange.upperBound
            previous = e
        }
        if end != dataStart + dataSize {
            let covered = end - dataStart
            throw ScoreError.format("\(path): \(dataSize - covered) bytes after the last tensor: the tensors cover \(covered) of the \(dataSize) data bytes (wrong header length, or bytes appended to the file)")
        }
    }

    /// Raw bytes of one entry; valid while `self` is alive.
    public func bytes(of entry: SafetensorsEntry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[entry.byteRange])
    }
}
