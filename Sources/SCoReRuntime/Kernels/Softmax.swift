import CKernels
public enum Softmax {
    /// In-place softmax of x[0..<count]; entries equal to −∞ become 0.
    public static func inPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let m = VectorMath.max(x, count: count)
        let sum = VectorMath.expShiftedInPlace(x, count: count, shift: m)
        let inv = 1 / sum
        for i in 0..<count { x[i] *= inv }
    }

    /// log Σ exp(x[i]), computed stably without modifying x.
    public static func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Float {
        let m = VectorMath.max(x, count: count)
        if m == -.infinity { return m }
        var lanes = VectorMath.V(repeating: 0)
        withUnsafeMutableBytes(of: &lanes) { scorek_exp_shifted(x, nil, count / 16, m, $0.baseAddress!.assumingMemoryBound(to: Float.self)) }
        var i = count / 16 * 16
        var total = Double(lanes.sum())
        while i < count {
            total += Double(VectorMath.exp(x[i] - m))
            i += 1
        }
        return m + Float(log(total))
    }
}

#if canImport(Glibc)
import Glibc
#endif
