#if canImport(Glibc)
import Glibc
#endif
import CBLAS
import CKernels

/// Which of OpenBLAS's kernels run our products, chosen by us, not by the
/// table of CPUs the installed OpenBLAS happens to know.
///
/// Debian 12's OpenBLAS 0.3.21 runs SSE3 kernels on Intel Sapphire/Emerald
/// Rapids (it reports "Prescott") and AVX2 ones on AMD Zen 5 ("Haswell"),
/// though both have AVX-512: every product 1.7-5x slower, silently. Here
/// the CPU's own feature bits pick the tier (AVX-512, else AVX2+FMA) and
/// OpenBLAS is re-initialised with a core of that tier whenever its own
/// pick is of a lower one, also when OPENBLAS_CORETYPE asked for it.
///
/// `SCORE_OPENBLAS_CORE=<name>` pins a core instead (e.g. Haswell on an
/// AVX-512 machine): a second kernel path with another summation order, for
/// tests and benchmarks; a pin below the CPU's tier is logged as a warning.
public enum OpenBLASCore {
    public struct Choice: Sendable {
        /// The core OpenBLAS chose when it was loaded.
        public let detected: String
        /// The core that runs products now.
        public let active: String
        /// The core this CPU should run, nil when none of ours fits (no AVX2).
        public let wanted: String?
    }

    /// Made once, before the first product (`BLAS.prepare`).
    public static let choice: Choice = select()

    /// An OPENBLAS_CORETYPE name of the best tier this CPU supports.
    public static func wantedCore(for features: CPU.Features) -> String? {
        if features.isSuperset(of: .avx512Tier) {
            // Cooperlake's kernels are SkylakeX's plus the BF16 ones.
            return features.contains(.avx512bf16) ? "Cooperlake" : "SkylakeX"
        }
        return features.isSuperset(of: .avx2Tier) ? "Haswell" : nil
    }

    /// 2 for AVX-512 kernels, 1 for AVX2+FMA ones, 0 for anything older.
    public static func tier(of core: String) -> Int {
        switch core.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return 2
        case "haswell", "zen", "excavator": return 1
        default: return 0
        }
    }

    public static var activeName: String { String(cString: openblas_get_corename()) }

    private static func select() -> Choice {
        let detected = activeName
        if let raw = getenv("SCORE_OPENBLAS_CORE"), case let pinned = String(cString: raw), !pinned.isEmpty {
            guard scorek_openblas_force_core(pinned) != 0 else {
                Log.write(.warn, "SCORE_OPENBLAS_CORE=\(pinned) ignored: this OpenBLAS cannot switch kernels (built without DYNAMIC_ARCH)")
                return Choice(detected: detected, active: detected, wanted: wantedCore(for: CPU.current.features))
            }
            let active = activeName
            Log.write(.warn, "SCORE_OPENBLAS_CORE=\(pinned): OpenBLAS runs its \(active) kernels (picked on its own: \(detected))")
            return Choice(detected: detected, active: active, wanted: wantedCore(for: CPU.current.features))
        }
        guard let wanted = wantedCore(for: CPU.current.features), tier(of: detected) < tier(of: wanted) else {
            return Choice(detected: detected, active: detected, wanted: wantedCore(for: CPU.current.features))
        }
        guard scorek_openblas_force_core(wanted) != 0 else {
            Log.write(.warn, "OpenBLAS runs its \(detected) kernels on a CPU that supports \(wanted)'s, and this OpenBLAS cannot switch (built without DYNAMIC_ARCH): matrix products are slower than they should be")
            return Choice(detected: detected, active: detected, wanted: wanted)
        }
        let active = activeName
        if tier(of: active) < tier(of: wanted) {
            Log.write(.warn, "OpenBLAS runs its \(active) kernels on a CPU that supports \(wanted)'s: matrix products are slower than they should be")
        } else {
            Log.write(.info, "OpenBLAS picked its \(detected) kernels for \(CPU.current.description); switched to \(active)")
        }
        return Choice(detected: detected, active: active, wanted: wanted)
    }
}

/// What this machine is and what libscore runs on it, for `score-cli info
/// --system` and `score_system_info`.
public enum SystemInfo {
    public static var fields: [(String, JSON)] {
        _ = BLAS.prepare
        let cpu = CPU.current, core = OpenBLASCore.choice
        return [
            ("cpu", .string(cpu.brand)), ("vendor", .string(cpu.vendor)), ("family", .int(Int64(cpu.family))),
            ("model", .int(Int64(cpu.model))), ("features", .array(cpu.features.names.map { .string($0) })),
            ("kernels", .string(KernelPath.active.name)),
            ("kernel_paths", .array(KernelPath.allCases.filter(\.isSupported).map { .string($0.name) })),
            ("openblas_detected", .string(core.detected)), ("openblas_core", .string(core.active)),
            ("threads", .int(Int64(BLAS.threadCount))),
        ]
    }
}
