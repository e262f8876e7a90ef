import CKernels
#if canImport(Glibc)
import Glibc
#endif

// Forward kernels that keep what their backward needs, and the backward
// kernels of every elementwise step of the decoder. Each backward ACCUMULATES
// into parameter gradients (llm.c's convention) so that tied or repeated
// uses of one tensor simply add up; input gradients are written or added as
// each function says.

extension RMSNorm {
    /// y = w ⊙ x·r with r = 1/sqrt(mean(x²) + eps) per row; stores r in rstd[rows].
    /// The same row function as `forward`, so the logits match inference bit for bit.
    public static func forward(out: UnsafeMutablePointer<Float>, outStride: Int, x: UnsafePointer<Float>, xStride: Int,
                        weight: UnsafePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                        rows: Int, dim: Int, eps: Float) {
        spread(out: out, outStride: outStride, x: x, xStride: xStride, weight: weight, rstd: rstd,
               rows: rows, dim: dim, eps: eps)
    }

    /// Backward of y = w ⊙ x·r:
    ///   dw += Σ_rows dy ⊙ x·r
    ///   dx  = r·(w⊙dy) − x · r³/n · Σ_i (w⊙dy⊙x)      (written, or added when `accumulate`)
    /// dx may alias dy only when `accumulate` is false.
    public static func backward(dx: UnsafeMutablePointer<Float>, dxStride: Int, dweight: UnsafeMutablePointer<Float>?,
                         dy: UnsafePointer<Float>, dyStride: Int, x: UnsafePointer<Float>, xStride: Int,
                         weight: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                         rows: Int, dim: Int, accumulate: Bool) {
        // dweight first (dx may overwrite dy): split by columns, each summed over rows in order.
        if let dweight {
            Parallel.chunks(dim, grain: 16) { cols in
                for r in 0..<rows {
                    let xr = x + r * xStride, dyr = dy + r * dyStride
                    let s = rstd[r]
                    for i in cols { dweight[i] += dyr[i] * xr[i] * s }
                }
            }
        }
        Parallel.chunks(rows, grain: max(1, 8192 / dim)) { range in
            for r in range {
                let xr = x + r * xStride, dyr = dy + r * dyStride, dxr = dx + r * dxStride
                let s = rstd[r]
                var dot: Float = 0
                for i in 0..<dim { dot += weight[i] * dyr[i] * xr[i] }
                let c = dot * s * s * s / Float(dim)
                if accumulate {
                    for i in 0..<dim { dxr[i] += s * weight[i] * dyr[i] - c * xr[i] }
                } else {
                    for i in 0..<dim { dxr[i] = s * weight[i] * dyr[i] - c * xr[i] }
                }
            }
        }
    }
}

extension RoPE {
    /// The gradient of `apply`: the rotation is orthogonal, so its backward is
    /// the rotation by the opposite angle (sin negated), in place.
    public func applyBackward(_ dx: UnsafeMutablePointer<Float>, rows: Int, stride: Int, heads: Int,
                       cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        let half = headDim / 2
        for t in 0..<rows {
            let c = cos + t * half, s = sin + t * half
            for h in 0..<heads {
                let v = dx + t * stride + h * headDim
                for i in 0..<half {
                    let a = v[i], b = v[i + half]
                    v[i] = a * c[i] + b * s[i]
                    v[i + half] = b * c[i] - a * s[i]
                }
            }
        }
    }
}

extension SwiGLU {
    /// For out = silu(g) ⊙ u with σ = sigmoid(g):
    ///   du = dout ⊙ g·σ,   dg = dout ⊙ u ⊙ σ·(1 + g·(1 − σ)).
    /// Written into dgate/dup; dout may alias dgate.
    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                         dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        scorek_swiglu_backward(dgate, dup, dout, gate, up, count / 16)
        var i = count / 16 * 16
        while i < count {
            let g = gate[i]
            let s = 1 / (1 + VectorMath.exp(-g))
            dup[i] = dout[i] * g * s
            dgate[i] = dout[i] * up[i] * s * (1 + g * (1 - s))
            i += 1
        }
    }
}

public enum GradientKernels {
    /// db[j] += Σ_r dy[r, j]
    public static func biasBackward(_ db: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let d = dy + r * cols
            for j in 0..<cols { db[j] += d[j] }
        }
    }

    /// dE[token_r] += dx[r] for every row (scatter-add; tokens may repeat).
    public static func embeddingBackward(_ dE: UnsafeMutablePointer<Float>, dx: UnsafePointer<Float>,
                                  tokens: UnsafePointer<Int32>, rows: Int, dim: Int) {
        for r in 0..<rows {
            let dst = dE + Int(tokens[r]) * dim, src = dx + r * dim
            for i in 0..<dim { dst[i] += src[i] }
        }
    }
}
