#if canImport(Glibc)
import Glibc
#endif

/// RMSNorm as Hugging Face computes it in F32: y = w ⊙ (x / sqrt(mean(x²) + eps)).
public enum RMSNorm {
    /// x, out: [rows × dim] with row strides; weight: [dim]. out may equal x.
    /// Rows are spread over the pool (a decoding batch's 16 as well as a
    /// prefill's); each row's arithmetic is the same on any thread.
    public static func forward(
        out: UnsafeMutablePointer<Float>, outStride: Int,
        x: UnsafePointer<Float>, xStride: Int,
        weight: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float
    ) {
        spread(out: out, outStride: outStride, x: x, xStride: xStride, weight: weight, rstd: nil,
               rows: rows, dim: dim, eps: eps)
    }

    /// Normalises rows in groups of `interleave`, the groups dealt evenly over
    /// the pool's threads once there is work enough (4096 elements a thread).
    static func spread(
        out: UnsafeMutablePointer<Float>, outStride: Int, x: UnsafePointer<Float>, xStride: Int,
        weight: UnsafePointer<Float>, rstd: UnsafeMutablePointer<Float>?, rows: Int, dim: Int, eps: Float
    ) {
        let groups = (rows + interleave - 1) / interleave
        let parts = max(1, min(ThreadPool.shared.threads, groups, rows * dim / 4096))
        Parallel.chunks(groups, grain: (groups + parts - 1) / parts) { range in
            for g in range {
                let first = g * interleave
                group(out + first * outStride, outStride, x + first * xStride, xStride, weight: weight,
                      rstd: rstd.map { $0 + first }, rows: min(interleave, rows - first), dim: dim, eps: eps)
            }
        }
    }

    /// A row's sum of squares is one chain of dependent additions (its order
    /// is the definition, shared with training); eight rows' chains side by
    /// side keep the adders busy instead of waiting on each addition.
    static let interleave = 8

    /// Up to `interleave` rows; each row gets `row`'s result bit for bit.
    @inline(__always)
    static func group(_ y: UnsafeMutablePointer<Float>, _ yStride: Int, _ x: UnsafePointer<Float>, _ xStride: Int,
                      weight: UnsafePointer<Float>, rstd: UnsafeMutablePointer<Float>?, rows: Int, dim: Int, eps: Float) {
        guard rows == interleave else {
            for r in 0..<rows {
                let scale = row(y + r * yStride, x + r * xStride, weight: weight, dim: dim, eps: eps)
                rstd?[r] = scale
            }
            return
        }
        // Lane r holds row r's running sum. Eight columns of the eight rows
        // are loaded as rows and transposed (three rounds of even/odd lane
        // interleaving), so each lane then adds its row's next eight squares
        // in order; gathering a column lane by lane would cost a gather a step.
        var sums = SIMD8<Float>()
        var i = 0
        while i + 8 <= dim {
            var t = InlineArray<8, SIMD8<Float>>(repeating: SIMD8<Float>())
            for r in 0..<8 { t[r] = UnsafeRawPointer(x + r * xStride + i).loadUnaligned(as: SIMD8<Float>.self) }
            for _ in 0..<3 {
                var next = InlineArray<8, SIMD8<Float>>(repeating: SIMD8<Float>())
                for j in 0..<4 {
                    next[j] = SIMD8(lowHalf: t[2 * j].evenHalf, highHalf: t[2 * j + 1].evenHalf)
                    next[j + 4] = SIMD8(lowHalf: t[2 * j].oddHalf, highHalf: t[2 * j + 1].oddHalf)
                }
                t = next
            }
            for c in 0..<8 { sums += t[c] * t[c] }
            i += 8
        }
        while i < dim {
            for r in 0..<8 { sums[r] += x[r * xStride + i] * x[r * xStride + i] }
            i += 1
        }
        for r in 0..<interleave {
            let scale = 1 / sqrtf(sums[r] / Float(dim) + eps)
            apply(scale, y + r * yStride, x + r * xStride, weight: weight, dim: dim)
            rstd?[r] = scale
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
        apply(scale, y, x, weight: weight, dim: dim)
        return scale
    }

    /// y = w ⊙ (x · scale)
    @inline(__always)
    static func apply(_ scale: Float, _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                      weight: UnsafePointer<Float>, dim: Int) {
        for i in 0..<dim { y[i] = weight[i] * (x[i] * scale) }
    }
}
