#if canImport(Glibc)
import Glibc
#endif
import CKernels

/// Which of our kernels run matrix products: the fastest this CPU supports
/// (cpuid at load), or the one `SCORE_KERNELS=reference|avx2|avx512|avx512bf16`
/// asks for (tests and benchmarks). F32 paths give the same bits; they
/// differ only in speed. `avx512bf16` adds vdpbf16ps for BF16 compute.
public enum KernelPath: Int, CaseIterable, Sendable {
    case reference = 0, avx2, avx512, avx512bf16

    public var name: String { String(cString: scorek_gemm_path_name(Int32(rawValue))) }

    public init?(name: String) {
        guard let path = KernelPath.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = path
    }

    public var isSupported: Bool { scorek_gemm_path_supported(Int32(rawValue)) != 0 }

    /// The fastest path this CPU runs.
    public static var best: KernelPath { KernelPath(rawValue: Int(scorek_gemm_best_path())) ?? .reference }

    /// The path products run on now.
    public static var active: KernelPath {
        _ = prepare
        return KernelPath(rawValue: Int(scorek_gemm_active_path())) ?? .reference
    }

    /// Runs products on `path` from now on (not while products run).
    public static func use(_ path: KernelPath) throws {
        _ = prepare
        guard scorek_gemm_use_path(Int32(path.rawValue)) != 0 else {
            throw ScoreError.invalidArgument("kernel path '\(path.name)' needs CPU features this machine lacks (\(CPU.current.description))")
        }
    }

    /// Applied once, before the first product.
    static let prepare: Void = {
        guard let raw = getenv("SCORE_KERNELS"), case let wanted = String(cString: raw), !wanted.isEmpty else { return }
        let names = KernelPath.allCases.map(\.name).joined(separator: "|")
        guard let path = KernelPath(name: wanted) else {
            Log.write(.warn, "SCORE_KERNELS=\(wanted) ignored: not one of \(names); running \(KernelPath.best.name)")
            return
        }
        guard scorek_gemm_use_path(Int32(path.rawValue)) != 0 else {
            Log.write(.warn, "SCORE_KERNELS=\(wanted) ignored: this CPU lacks its instructions; running \(KernelPath.best.name)")
            return
        }
        Log.write(.warn, "SCORE_KERNELS=\(wanted): matrix products run the \(path.name) kernels (forced)")
    }()
}
