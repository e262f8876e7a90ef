// Shared by the Swift fuzz harnesses (compiled into each one).
#if canImport(Glibc)
import Glibc
#endif
@testable import SCoReRuntime

enum Fuzz {
    /// The repository root (the Makefile runs harnesses from .build-fuzz and sets SCORE_REPO).
    static let repo: String = getenv("SCORE_REPO").map { String(cString: $0) } ?? "."

    /// A private scratch directory in tmpfs for inputs that must be files.
    static let scratch: String = {
        let base = Files.isDirectory("/dev/shm") ? "/dev/shm" : "/tmp"
        let dir = "\(base)/score-fuzz-\(getpid())"
        mkdir(dir, 0o700)
        atexit { _ = system("rm -rf /dev/shm/score-fuzz-\(getpid()) /tmp/score-fuzz-\(getpid())") }
        return dir
    }()

    /// Writes `bytes` to scratch/name and returns the path.
    @discardableResult
    static func write<C: Collection<UInt8>>(_ name: String, _ bytes: C, in dir: String = scratch) -> String {
        let path = dir + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot create \(path)")
        let array = Array(bytes)
        array.withUnsafeBytes { p in
            var done = 0
            while done < p.count {
                let n = Glibc.write(fd, p.baseAddress! + done, p.count - done)
                precondition(n > 0)
                done += n
            }
        }
        close(fd)
        return path
    }

    /// The input before the first NUL byte and the rest after it (nil rest when there is no NUL).
    static func split(_ data: UnsafeBufferPointer<UInt8>) -> (ArraySlice<UInt8>, ArraySlice<UInt8>?) {
        let all = Array(data)[...]
        guard let i = all.firstIndex(of: 0) else { return (all, nil) }
        return (all[..<i], all[(i + 1)...])
    }

    static func text<C: Collection<UInt8>>(_ bytes: C) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Copies a fixture file into `dir` under `name`.
    static func copy(_ from: String, to dir: String, name: String) {
        write(name, try! Files.readAll(from), in: dir)
    }
}
