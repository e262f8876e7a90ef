#if canImport(Glibc)
import Glibc
#endif

/// Replaces a whole directory atomically: the new contents are written into
/// a temporary directory beside the target, every file and the directory are
/// fsync'ed, and the two are swapped with renameat2(RENAME_EXCHANGE) (one
/// atomic step: a process killed at any moment leaves either the old or the
/// new directory under the target name, never a mixture). Where the kernel or
/// libc lacks renameat2, the old directory is first renamed to "<target>.old"
/// and `recover` restores it if the process died in between.
/// Directories handled here are flat (files only), like checkpoints.
///
/// The temporary directory is named "<target>.score-tmp-<pid>-XXXXXX". A
/// process killed mid-save (up to a whole checkpoint, GBs) leaves it behind;
/// the next save, resume or `recover` of the same target removes such
/// leftovers, but only those whose pid is no longer running (never another
/// live process's save in progress, nor one of this process's own).
public enum AtomicDirectory {
    static let tempMarker = ".score-tmp-"
    /// Leftovers of versions that did not put the pid in the name are removed
    /// only when untouched for this long (their owner cannot be checked).
    static let legacyStaleSeconds = 3600

    public static func write(_ target: String, _ fill: (String) throws -> Void) throws {
        let target = target.hasSuffix("/") && target.count > 1 ? String(target.dropLast()) : target
        let parent = Self.parent(of: target)
        guard Files.isDirectory(parent) else { throw ScoreError.io("\(parent): no such directory") }
        try recover(target)  // also removes the leftovers of killed saves
        var template = Array((target + tempMarker + "\(getpid())-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw ScoreError.io("\(target): cannot create a directory beside it (\(errnoText()))") }
        let temp = String(cString: template)
        do {
            try fill(temp)
            try syncDirectory(temp)
            if Files.exists(target) {
                if !exchange(temp, target) {
                    let old = target + ".old"
                    try? removeFlat(old)
                    guard rename(target, old) == 0 else { throw ScoreError.io("\(target): cannot move aside: \(errnoText())") }
                    guard rename(temp, target) == 0 else { throw ScoreError.io("\(target): cannot rename into place: \(errnoText())") }
                    try syncDirectory(parent)
                    try removeFlat(old)
                    return
                }
                try syncDirectory(parent)
                try removeFlat(temp)  // now holds the previous contents
            } else {
                guard rename(temp, target) == 0 else { throw ScoreError.io("\(target): cannot rename into place: \(errnoText())") }
            }
            try syncDirectory(parent)
        } catch {
            try? removeFlat(temp)
            throw error
        }
    }

    /// Restores "<target>.old" when a save on a system without renameat2 was
    /// killed after moving the previous directory aside.
    /// Also removes the temporary directories of killed saves (see above).
    public static func recover(_ target: String) throws {
        let target = target.hasSuffix("/") && target.count > 1 ? String(target.dropLast()) : target
        let old = target + ".old"
        if !Files.exists(target) && Files.isDirectory(old) {
            guard rename(old, target) == 0 else { throw ScoreError.io("\(target): cannot restore \(old): \(errnoText())") }
        }
        removeStaleTemporaries(target)
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32

    /// renameat2(RENAME_EXCHANGE), looked up at run time (glibc ≥ 2.28; the
    /// Swift Glibc module does not declare it).
    private static func exchange(_ a: String, _ b: String) -> Bool {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return false }
        let fn = unsafeBitCast(symbol, to: RenameAt2.self)
        return fn(AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) == 0
    }

    /// Removes "<target>.score-tmp-<pid>-*" directories whose process is
    /// gone. Returns the names removed.
    @discardableResult
    public static func removeStaleTemporaries(_ target: String) -> [String] {
        let parent = Self.parent(of: target)
        let base = target.split(separator: "/").last.map(String.init) ?? target
        var removed: [String] = []
        for name in (try? listDirectory(parent)) ?? [] where name.hasPrefix(base + tempMarker) {
            let path = Files.join(parent, name)
            guard Files.isDirectory(path) else { continue }
            let rest = name.dropFirst(base.count + tempMarker.count)
            if let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0 {
                guard pid != getpid(), !processIsAlive(pid) else { continue }
            } else {
                var st = stat()
                guard stat(path, &st) == 0, time(nil) - st.st_mtim.tv_sec > legacyStaleSeconds else { continue }
            }
            if (try? removeFlat(path)) != nil { removed.append(name) }
        }
        return removed
    }

    /// kill(pid, 0): the process exists (EPERM: it exists but is not ours).
    static func processIsAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw ScoreError.io("\(path): cannot open directory: \(errnoText())") }
        defer { close(fd) }
        if fsync(fd) != 0 { throw ScoreError.io("\(path): fsync failed: \(errnoText())") }
    }

    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw ScoreError.io("\(path): cannot list: \(errnoText())") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes a directory holding only files.
    public static func removeFlat(_ path: String) throws {
        guard Files.isDirectory(path) else { return }
        for name in try listDirectory(path) { unlink(Files.join(path, name)) }
        if rmdir(path) != 0 { throw ScoreError.io("\(path): cannot remove: \(errnoText())") }
    }

    /// Copies a file, fsync'ed.
    public static func copyFile(_ source: String, _ destination: String) throws {
        let bytes = try Files.readAll(source)
        let out = try OutputFile(path: destination)
        try bytes.withUnsafeBytes { try out.write($0) }
        try out.close()
    }
}
