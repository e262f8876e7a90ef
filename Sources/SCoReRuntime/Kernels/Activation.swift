import CKernels
/// The SwiGLU gate of Llama-family MLPs: out = silu(gate) ⊙ up, silu(x) = x·σ(x).
public enum SwiGLU {
    /// gate, up, out: [count]; out may alias gate. Many elements (a prefill,
    /// a training batch) are spread over the pool in chunks of whole
    /// vectors, so every element takes the path it takes on one thread.
    public static func forward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        Parallel.chunks(count, grain: 1 << 14) { r in
            chunk(out: out + r.lowerBound, gate: gate + r.lowerBound, up: up + r.lowerBound, count: r.count)
        }
    }

    private static func chunk(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        scorek_swiglu(out, gate, up, count / 16)
        var i = count / 16 * 16
        while i < count {
            let g = gate[i]
            out[i] = g / (1 + VectorMath.exp(-g)) * up[i]
            i += 1
        }
    }
}

/// Adds a bias row to every row of a [rows × cols] matrix.
public enum Bias {
    public static func add(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, stride: Int, bias: UnsafePointer<Float>) {
        for r in 0..<rows {
            let xr = x + r * stride
            for i in 0..<cols { xr[i] += bias[i] }
        }
    }
}
