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
        let s = VectorMath.V(repeating: m)
        var lanes = VectorMath.V(repeating: 0)
        var i = 0
        while i + 16 <= count {
            lanes += VectorMath.exp(VectorMath.load(x + i) - s)
            i += 16
        }
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
