#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime

@Suite struct KernelTests {
    @Test func vectorExpMatchesLibm() {
        var worst: Double = 0
        var x: Float = -86.4
        while x < 88.7 {
            let got = Double(VectorMath.exp(x))
            let want = Foundation_exp(Double(x))
            worst = max(worst, abs(got - want) / want)
            x += 0.0137
        }
        #expect(worst < 3e-7, "max relative error \(worst)")
        #expect(VectorMath.exp(-200) == 0)
        #expect(VectorMath.exp(-Float.infinity) == 0)
        #expect(VectorMath.exp(200) == .infinity)
        #expect(VectorMath.exp(Float.nan).isNaN)
        #expect(VectorMath.exp(0) == 1)
    }

    @Test func softmaxAndLogSumExp() {
        for count in [1, 5, 16, 17, 100, 1000] {
            var x = (0..<count).map { Float(($0 * 37) % 23) * 0.7 - 5 }
            let want = Foundation_log(x.map { Foundation_exp(Double($0)) }.reduce(0, +))
            let lse = x.withUnsafeBufferPointer { Softmax.logSumExp($0.baseAddress!, count: count) }
            #expect(abs(Double(lse) - want) < 1e-5)
            x.withUnsafeMutableBufferPointer { Softmax.inPlace($0.baseAddress!, count: count) }
            #expect(abs(x.reduce(0, +) - 1) < 1e-5)
        }
    }

    @Test func swigluMatchesDefinition() {
        let n = 37
        let gate = (0..<n).map { Float($0) * 0.5 - 9 }
        let up = (0..<n).map { Float($0 % 5) - 2 }
        var out = [Float](repeating: 0, count: n)
        gate.withUnsafeBufferPointer { g in up.withUnsafeBufferPointer { u in out.withUnsafeMutableBufferPointer { o in
            SwiGLU.forward(out: o.baseAddress!, gate: g.baseAddress!, up: u.baseAddress!, count: n)
        } } }
        for i in 0..<n {
            let g = Double(gate[i])
            let want = g / (1 + Foundation_exp(-g)) * Double(up[i])
            #expect(abs(Double(out[i]) - want) < 1e-5 * max(1, abs(want)))
        }
    }
}

// libm in Double, named apart from VectorMath.exp.
private func Foundation_exp(_ x: Double) -> Double { Glibc.exp(x) }
private func Foundation_log(_ x: Double) -> Double { Glibc.log(x) }
