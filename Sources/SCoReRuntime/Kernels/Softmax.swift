#if canImport(Glibc)
import Glibc
#endif

public enum Softmax {
    /// In-place softmax of x[0..<count]; entries equal to -inf become 0.
    public static func inPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var m = -Float.infinity
        for i in 0..<count where x[i] > m { m = x[i] }
        var sum: Float = 0
        for i in 0..<count {
            let e = expf(x[i] - m)
            x[i] = e
            sum += e
        }
        let inv = 1 / sum
        for i in 0..<count { x[i] *= inv }
    }

    /// log Σ exp(x[i]), computed stably (in Double for the sum, so long
    /// vocabularies do not lose precision).
    public static func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var m = -Float.infinity
        for i in 0..<count where x[i] > m { m = x[i] }
        if m == -.infinity { return m }
        var sum: Float = 0
        var total: Double = 0
        // Sum in blocks of F32 (vectorisable), accumulate blocks in Double.
        var i = 0
        while i < count {
            let end = min(i + 256, count)
            sum = 0
            for j in i..<end { sum += expf(x[j] - m) }
            total += Double(sum)
            i = end
        }
        return m + Float(log(total))
    }
}
