#if canImport(Glibc)
import Glibc
#endif

/// Writes F32 tensors as a safetensors file (the layout `SafetensorsFile`
/// reads): u64 header length, JSON header padded with spaces to a multiple
/// of 8 bytes (as the Python library does, so the data is aligned), data.
/// The file is fsync'ed before `write` returns.
public enum SafetensorsWriter {
    public struct Tensor {
        public let name: String
        public let shape: [Int]
        public let data: UnsafePointer<Float>

        public init(name: String, shape: [Int], data: UnsafePointer<Float>) {
            self.name = name
            self.shape = shape
            self.data = data
        }

        var count: Int { shape.reduce(1, *) }
    }

    public static func write(path: String, tensors: [Tensor], metadata: [(String, String)] = [("format", "pt")]) throws {
        var header: [(String, JSON)] = []
        if !metadata.isEmpty { header.append(("__metadata__", .object(metadata.map { ($0.0, JSON.string($0.1)) }))) }
        var offset = 0
        var seen = Set<String>()
        for t in tensors {
            guard seen.insert(t.name).inserted else { throw ScoreError.invalidArgument("\(path): tensor '\(t.name)' written twice") }
            let bytes = t.count * 4
            header.append((t.name, .object([
                ("dtype", .string("F32")),
                ("shape", .array(t.shape.map { .int(Int64($0)) })),
                ("data_offsets", .array([.int(Int64(offset)), .int(Int64(offset + bytes))])),
            ])))
            offset += bytes
        }
        var text = Array(try JSON.object(header).serialized(indent: false).utf8)
        while text.count % 8 != 0 { text.append(0x20) }
        let file = try OutputFile(path: path)
        var length = UInt64(text.count).littleEndian
        try withUnsafeBytes(of: &length) { try file.write($0) }
        try text.withUnsafeBytes { try file.write($0) }
        for t in tensors {
            try file.write(UnsafeRawBufferPointer(start: t.data, count: t.count * 4))
        }
        try file.close()
    }
}

/// A file created for writing (truncating), written fully, fsync'ed on close.
public final class OutputFile {
    public let path: String
    private var fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw ScoreError.io("\(path): cannot create: \(errnoText())") }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, base + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw ScoreError.io("\(path): write failed: \(errnoText())") }
            done += n
        }
    }

    public func write(_ text: String) throws {
        var t = text
        try t.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// fsync, then close: after this the bytes are on disk.
    public func close() throws {
        defer { Glibc.close(fd); fd = -1 }
        if fsync(fd) != 0 { throw ScoreError.io("\(path): fsync failed: \(errnoText())") }
    }
}
