import Testing
import SCoReRuntime

@Suite struct CPUDispatchTests {
    @Test func featureTiersNestAsTheISAsDo() {
        let cpu = CPU.current.features
        if cpu.contains(.avx512f) { #expect(cpu.contains(.avx2) && cpu.contains(.fma)) }
        if cpu.contains(.avx512bf16) { #expect(cpu.contains(.avx512f)) }
        #expect(!CPU.current.vendor.isEmpty)
    }

    @Test func wantedCoreFollowsTheFeatureBits() {
        #expect(OpenBLASCore.wantedCore(for: .avx512Tier.union(.avx512bf16)) == "Cooperlake")
        #expect(OpenBLASCore.wantedCore(for: .avx512Tier) == "SkylakeX")
        #expect(OpenBLASCore.wantedCore(for: .avx2Tier) == "Haswell")
        #expect(OpenBLASCore.wantedCore(for: [.sse3, .avx]) == nil)
        #expect(OpenBLASCore.tier(of: "Prescott") < OpenBLASCore.tier(of: "Haswell"))
        #expect(OpenBLASCore.tier(of: "Haswell") < OpenBLASCore.tier(of: "SkylakeX"))
    }

    /// Whatever OpenBLAS picked when it was loaded, products run on kernels
    /// of the CPU's own tier once the library is ready.
    @Test func openBLASRunsTheKernelsOfThisCPUsTier() {
        _ = BLAS.prepare
        let choice = OpenBLASCore.choice
        #expect(choice.active == OpenBLASCore.activeName)
        if let wanted = choice.wanted {
            #expect(OpenBLASCore.tier(of: choice.active) >= OpenBLASCore.tier(of: wanted),
                    "OpenBLAS detected \(choice.detected), runs \(choice.active), this CPU wants \(wanted)")
        }
    }
}
