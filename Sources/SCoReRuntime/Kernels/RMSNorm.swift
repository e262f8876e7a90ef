#if canImport(Glibc)
import Glibc
#endif

/// RMSNorm as Hugging Face computes it in F32: y = w ⊙ (x / sqrt(mean(x²) + eps)).
public enum RMSNorm {
    /// x, out: [rows × dim] with row strides; weight: [dim]. out may equal x.
    public static func forward(
        out: UnsafeMutablePointer<Float>, outStride: Int,
        x: UnsafePointer<Float>, xStride: Int,
        weight: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float
    ) {
        for r in 0..<rows {
            let xr = x + r * xStride
            let yr = out + r * outStride
            var sum: Float = 0
            for i in 0..<dim { sum += xr[i] * xr[i] }
            let scale = 1 / sqrtf(sum / Float(dim) + eps)
            for i in 0..<dim { yr[i] = weight[i] * (xr[i] * scale) }
        }
    }
}
