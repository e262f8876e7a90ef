/// The projections a LoRA adapter can attach to, by peft's module names.
public enum LoRATarget: String, CaseIterable, Sendable {
    case q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj"
    case gate = "gate_proj", up = "up_proj", down = "down_proj"

    var index: Int { LoRATarget.allCases.firstIndex(of: self)! }

    /// peft's module path inside a layer ("self_attn.q_proj", "mlp.up_proj").
    public var modulePath: String {
        switch self {
        case .q, .k, .v, .o: return "self_attn." + rawValue
        case .gate, .up, .down: return "mlp." + rawValue
        }
    }
}

/// One adapter: W' = W + scale · B·A with A [rank × in], B [out × rank].
/// Gradients are nil when the adapter is frozen (a loaded, untrained one).
public struct LoRAPair {
    public let a: UnsafeMutablePointer<Float>
    public let b: UnsafeMutablePointer<Float>
    public let gradA: UnsafeMutablePointer<Float>?
    public let gradB: UnsafeMutablePointer<Float>?
    public let rank: Int
    public let scale: Float

    public init(a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, gradA: UnsafeMutablePointer<Float>?,
                gradB: UnsafeMutablePointer<Float>?, rank: Int, scale: Float) {
        (self.a, self.b, self.gradA, self.gradB, self.rank, self.scale) = (a, b, gradA, gradB, rank, scale)
    }
}

/// One projection during training: frozen or trainable base weight, optional
/// bias, optional adapter. `xa` is where the forward keeps x·Aᵀ [R × rank]
/// for the backward.
public struct Projection {
    public let w: LinearTensors
    public let grad: LinearTensors
    public let lora: LoRAPair?

    public init(w: LinearTensors, grad: LinearTensors, lora: LoRAPair?) {
        (self.w, self.grad, self.lora) = (w, grad, lora)
    }

    /// out[R × rows] (= or +=) x·Wᵀ + b + scale·(x·Aᵀ)·Bᵀ
    public func forward(_ x: UnsafePointer<Float>, rows R: Int, into out: UnsafeMutablePointer<Float>,
                 accumulate: Bool, xa: UnsafeMutablePointer<Float>?) {
        MatMul.matmulTransposedB(m: R, n: w.rows, k: w.cols, a: x, lda: w.cols, b: w.weight!, ldb: w.cols,
                               c: out, ldc: w.rows, beta: accumulate ? 1 : 0)
        if let b = w.bias { Bias.add(out, rows: R, cols: w.rows, stride: w.rows, bias: b) }
        if let l = lora, let xa {
            MatMul.matmulTransposedB(m: R, n: l.rank, k: w.cols, a: x, lda: w.cols, b: l.a, ldb: w.cols, c: xa, ldc: l.rank)
            MatMul.matmulTransposedB(m: R, n: w.rows, k: l.rank, a: xa, lda: l.rank, b: l.b, ldb: l.rank,
                                   c: out, ldc: w.rows, alpha: l.scale, beta: 1)
        }
    }

    /// Given dy [R × rows] and the forward input x [R × cols]: accumulates
    /// dW, db, dA, dB (those that exist) and writes or adds dx [R × cols].
    /// `dxa` is scratch [R × rank].
    public func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, rows R: Int,
                  dx: UnsafeMutablePointer<Float>?, accumulateDx: Bool,
                  xa: UnsafePointer<Float>?, dxa: UnsafeMutablePointer<Float>) {
        if let dW = grad.weight {
            MatMul.matmulTransposedA(m: w.rows, n: w.cols, k: R, a: dy, lda: w.rows, b: x, ldb: w.cols,
                                   c: dW, ldc: w.cols, beta: 1)
        }
        if let db = grad.bias { GradientKernels.biasBackward(db, dy: dy, rows: R, cols: w.rows) }
        if let dx {
            MatMul.matmul(m: R, n: w.cols, k: w.rows, a: dy, lda: w.rows, b: w.weight!, ldb: w.cols,
                        c: dx, ldc: w.cols, beta: accumulateDx ? 1 : 0)
        }
        guard let l = lora, let xa else { return }
        if let dB = l.gradB {
            MatMul.matmulTransposedA(m: w.rows, n: l.rank, k: R, a: dy, lda: w.rows, b: xa, ldb: l.rank,
                                   c: dB, ldc: l.rank, alpha: l.scale, beta: 1)
        }
        // d(xa) = scale · dy·B
        MatMul.matmul(m: R, n: l.rank, k: w.rows, a: dy, lda: w.rows, b: l.b, ldb: l.rank,
                    c: dxa, ldc: l.rank, alpha: l.scale)
        if let dA = l.gradA {
            MatMul.matmulTransposedA(m: l.rank, n: w.cols, k: R, a: dxa, lda: l.rank, b: x, ldb: w.cols,
                                   c: dA, ldc: w.cols, beta: 1)
        }
        if let dx {
            MatMul.matmul(m: R, n: w.cols, k: l.rank, a: dxa, lda: l.rank, b: l.a, ldb: w.cols,
                        c: dx, ldc: w.cols, beta: 1)
        }
    }
}
