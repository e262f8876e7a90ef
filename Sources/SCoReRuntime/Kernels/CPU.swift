import CKernels

/// What the processor this runs on can do, read once with cpuid.
public struct CPU: Sendable {
    public struct Features: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let sse3 = Features(rawValue: UInt32(SCORE_CPU_SSE3))
        public static let avx = Features(rawValue: UInt32(SCORE_CPU_AVX))
        public static let avx2 = Features(rawValue: UInt32(SCORE_CPU_AVX2))
        public static let fma = Features(rawValue: UInt32(SCORE_CPU_FMA))
        public static let f16c = Features(rawValue: UInt32(SCORE_CPU_F16C))
        public static let avx512f = Features(rawValue: UInt32(SCORE_CPU_AVX512F))
        public static let avx512bw = Features(rawValue: UInt32(SCORE_CPU_AVX512BW))
        public static let avx512dq = Features(rawValue: UInt32(SCORE_CPU_AVX512DQ))
        public static let avx512vl = Features(rawValue: UInt32(SCORE_CPU_AVX512VL))
        public static let avx512vnni = Features(rawValue: UInt32(SCORE_CPU_AVX512_VNNI))
        public static let avx512bf16 = Features(rawValue: UInt32(SCORE_CPU_AVX512_BF16))
        public static let avx512fp16 = Features(rawValue: UInt32(SCORE_CPU_AVX512_FP16))
        public static let avxvnni = Features(rawValue: UInt32(SCORE_CPU_AVX_VNNI))

        /// AVX2 with FMA: x86-64-v3, the baseline of our fast paths.
        public static let avx2Tier: Features = [.avx2, .fma]
        /// The AVX-512 subset Skylake-SP introduced (x86-64-v4).
        public static let avx512Tier: Features = [.avx2, .fma, .avx512f, .avx512bw, .avx512dq, .avx512vl]

        static let names: [(Features, String)] = [
            (.sse3, "sse3"), (.avx, "avx"), (.avx2, "avx2"), (.fma, "fma"), (.f16c, "f16c"),
            (.avx512f, "avx512f"), (.avx512bw, "avx512bw"), (.avx512dq, "avx512dq"), (.avx512vl, "avx512vl"),
            (.avx512vnni, "avx512_vnni"), (.avx512bf16, "avx512_bf16"), (.avx512fp16, "avx512_fp16"),
            (.avxvnni, "avx_vnni"),
        ]

        public var names: [String] { Self.names.filter { contains($0.0) }.map(\.1) }
    }

    public let features: Features
    public let vendor: String
    public let family: Int
    public let model: Int
    public let brand: String

    /// The CPU of this process.
    public static let current: CPU = {
        var vendor = [CChar](repeating: 0, count: 13)
        var brand = [CChar](repeating: 0, count: 49)
        var family: UInt32 = 0, model: UInt32 = 0
        scorek_cpu_identity(&vendor, &family, &model, &brand)
        func text(_ chars: [CChar]) -> String {
            String(decoding: chars.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .trimmingSpaces()
        }
        return CPU(features: Features(rawValue: scorek_cpu_features()), vendor: text(vendor),
                   family: Int(family), model: Int(model), brand: text(brand))
    }()

    /// "AMD EPYC 9B45 (AuthenticAMD family 26 model 2)".
    public var description: String {
        "\(brand.isEmpty ? "unknown CPU" : brand) (\(vendor) family \(family) model \(model))"
    }
}

private extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
