#if canImport(Glibc)
import Glibc
#endif

/// RMSNorm as Hugging Face computes it in F32: y = w ⊙ (x / sqrt(mean(x²) + eps)).
public enum RMSNorm {
    /// x, out: [rows × dim] with row strides; weight: [dim]. out may equal x.
    /// Many rows (a prefill) are spread over the pool; each row's arithmetic
    /// is the same on any thread.
    public static func forward(
        out: UnsafeMutablePointer<Float>, outStride: Int,
        x: UnsafePointer<Float>, xStride: Int,
        weight: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float
    ) {
        Parallel.chunks(rows, grain: max(1, 8192 / dim)) { range in
            for r in range { _ = row(out + r * outStride, x + r * xStride, weight: weight, dim: dim, eps: eps) }
        }
    }

    /// One row; returns its 1/sqrt(mean(x²) + eps), which training keeps
    /// for the backward. Inference and training share it, so a trainer's
    /// logits equal the model's bit for bit.
    @inline(__always)
    static func row(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                    dim: Int, eps: Float) -> Float {
        var sum: Float = 0
        for i in 0..<dim { sum += x[i] * x[i] }
        let scale = 1 / sqrtf(sum / Float(dim) + eps)
        for i in 0..<dim { y[i] = weight[i] * (x[i] * scale) }
        return scale
    }
}
