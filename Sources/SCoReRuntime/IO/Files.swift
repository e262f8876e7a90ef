#if canImport(Glibc)
import Glibc
#endif

/// A read-only view of a whole file: memory-mapped, or read into private
/// memory when mapping is off. Unmapped/freed on deinit.
///
/// Only regular files are read: the file is opened with O_NONBLOCK (so a
/// FIFO without a writer cannot block `open`) and fstat'ed, and a FIFO,
/// device, socket or directory is an `.io` error naming its type. Every
/// reader of the library (weights, config.json, tokenizer.json, data files)
/// goes through here.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeRawPointer?
    private let isMapped: Bool

    public init(path: String, mapped: Bool = true) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { throw ScoreError.io("\(path): cannot open: \(errnoText())") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw ScoreError.io("\(path): cannot stat: \(errnoText())") }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw ScoreError.io("\(path): is a directory")
        case S_IFIFO: throw ScoreError.io("\(path): is a FIFO (named pipe), not a regular file")
        case S_IFCHR, S_IFBLK: throw ScoreError.io("\(path): is a device, not a regular file")
        case S_IFSOCK: throw ScoreError.io("\(path): is a socket, not a regular file")
        default: throw ScoreError.io("\(path): is not a regular file")
        }
        let size = Int(st.st_size)
        self.count = size
        if size == 0 {
            base = nil
            isMapped = false
            return
        }
        if mapped {
            let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
            if p == MAP_FAILED || p == nil { throw ScoreError.io("\(path): cannot map \(size) bytes: \(errnoText())") }
            base = UnsafeRawPointer(p!)
            isMapped = true
        } else {
            guard let p = malloc(size) else { throw ScoreError.outOfMemory("\(path): cannot allocate \(size) bytes") }
            var done = 0
            while done < size {
                let n = pread(fd, p + done, size - done, off_t(done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    free(p)
                    throw ScoreError.io("\(path): read failed at byte \(done): \(n == 0 ? "unexpected end of file" : errnoText())")
                }
                done += n
            }
            base = UnsafeRawPointer(p)
            isMapped = false
        }
    }

    deinit {
        guard let base else { return }
        if isMapped { munmap(UnsafeMutableRawPointer(mutating: base), count) } else { free(UnsafeMutableRawPointer(mutating: base)) }
    }

    /// The file's bytes; valid while `self` is alive.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Whether the bytes live in the page cache (true) or private memory.
    public var residesInMapping: Bool { isMapped }

    /// Lets the kernel drop the mapping's resident pages (they are read back
    /// from the file on the next access): for mapped weights that were
    /// copied elsewhere and will not be read for a while.
    public func dropResidentPages() {
        guard isMapped, let base, count > 0 else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), count, MADV_DONTNEED)
    }
}

public enum Files {
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Reads a small file whole (config files, JSON). Larger files should be mapped.
    public static func readAll(_ path: String, limit: Int = 1 << 30) throws -> [UInt8] {
        let file = try MappedFile(path: path, mapped: false)
        if file.count > limit { throw ScoreError.format("\(path): \(file.count) bytes is larger than the limit of \(limit)") }
        return Array(file.bytes)
    }

    public static func readJSON(_ path: String, rejectingDuplicateKeys: Bool = false) throws -> JSON {
        let bytes = try readAll(path, limit: 512 << 20)
        return try JSON.parse(bytes, context: path, rejectingDuplicateKeys: rejectingDuplicateKeys)
    }

    public static func join(_ dir: String, _ name: String) -> String {
        dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }
}

extension Files {
    /// Creates `path` and any missing parents (like mkdir -p).
    public static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if !isDirectory(prefix) && mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw ScoreError.io("\(prefix): cannot create directory (\(errnoText()))")
            }
            prefix += "/"
        }
    }
}

func errnoText() -> String {
    String(cString: strerror(errno))
}
