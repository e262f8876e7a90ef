#if canImport(Glibc)
import Glibc
#endif

/// Rotary position embeddings in Hugging Face's rotate-half convention:
/// dimension i is paired with i + d/2 (not with i + 1 as in the original
/// Meta code), and both halves share frequency inv_freq[i].
public struct RoPE: Sendable {
    public let headDim: Int
    /// [headDim / 2] inverse frequencies after rope_scaling.
    public let inverseFrequencies: [Float]

    public init(headDim: Int, theta: Double, scaling: RopeScaling) {
        self.headDim = headDim
        let half = headDim / 2
        // F32 like transformers: 1 / theta^(2i/d).
        var inv = (0..<half).map { i -> Float in
            1 / Float(pow(theta, Double(Float(2 * i) / Float(headDim))))
        }
        switch scaling {
        case .none:
            break
        case .linear(let factor):
            inv = inv.map { $0 / Float(factor) }
        case .llama3(let factor, let low, let high, let original):
            let lowWavelen = Double(original) / low
            let highWavelen = Double(original) / high
            inv = inv.map { f in
                let wavelen = 2 * Double.pi / Double(f)
                if wavelen < highWavelen { return f }                 // high frequency: keep
                if wavelen > lowWavelen { return f / Float(factor) }   // low frequency: scale
                let smooth = (Double(original) / wavelen - low) / (high - low)
                return Float((1 - smooth) * Double(f) / factor + smooth * Double(f))
            }
        }
        inverseFrequencies = inv
    }

    /// Fills cos/sin tables [count × headDim/2] for positions start..<start+count.
    public func tables(start: Int, count: Int, cos cosOut: UnsafeMutablePointer<Float>, sin sinOut: UnsafeMutablePointer<Float>) {
        let half = headDim / 2
        for t in 0..<count {
            let p = Float(start + t)
            for i in 0..<half {
                let angle = Double(p * inverseFrequencies[i])  // F32 product, as transformers
                cosOut[t * half + i] = Float(Glibc.cos(angle))
                sinOut[t * half + i] = Float(Glibc.sin(angle))
            }
        }
    }

    /// Rotates `heads` head vectors of every row of x [rows × stride] in place,
    /// row t using table row t.
    public func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, stride: Int, heads: Int,
                      cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        let half = headDim / 2
        for t in 0..<rows {
            let c = cos + t * half
            let s = sin + t * half
            for h in 0..<heads {
                let v = x + t * stride + h * headDim
                for i in 0..<half {
                    let a = v[i], b = v[i + half]
                    v[i] = a * c[i] - b * s[i]
                    v[i + half] = b * c[i] + a * s[i]
                }
            }
        }
    }
}
