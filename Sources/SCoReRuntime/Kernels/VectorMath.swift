import CKernels
/// Vectorised elementwise maths on F32 arrays.
///
/// libm's expf is a scalar call (~10 ns); softmax over attention scores and
/// the SwiGLU gate need tens of millions per prefill. `exp` here works on
/// 16 lanes at once: n = round(x / ln 2), r = x − n·ln 2 (split in two
/// constants so r stays exact), e^r by a degree-6 polynomial, then 2^n is
/// put straight into the exponent bits. Relative error ≤ 2 ulp on
/// [−86.5, 88.7]; below that the result is 0 (e^−86.5 ≈ 2.6e−38, beneath
/// anything a softmax can resolve), above it +∞, NaN stays NaN.
public enum VectorMath {
    public typealias V = SIMD16<Float>

    @inline(__always)
    public static func exp(_ x: V) -> V {
        let maxInput = V(repeating: 88.72283)
        let minInput = V(repeating: -86.5)
        // Lane-wise select, not pointwiseMin/Max: those compile to a scalar
        // loop over the lanes (7 ns per element measured).
        var xc = x
        xc.replace(with: minInput, where: xc .< minInput)
        xc.replace(with: maxInput, where: xc .> maxInput)
        // Adding 1.5·2^23 rounds x·log2(e) to an integer n held in the low
        // mantissa bits: no float→int conversion instruction needed.
        let magic = V(repeating: 12582912)
        let shifted = xc * V(repeating: 1.442695041) + magic
        let n = shifted - magic
        // ln 2 = hi + lo with hi exact in few bits, so n·hi is exact.
        var r = xc - n * V(repeating: 0.693359375)
        r = r - n * V(repeating: -2.12194440e-4)
        // e^r on |r| <= ln2/2: minimax coefficients (Cephes expf).
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + V(repeating: 1.3981999507e-3)
        p = p * r + V(repeating: 8.3334519073e-3)
        p = p * r + V(repeating: 4.1665795894e-2)
        p = p * r + V(repeating: 1.6666665459e-1)
        p = p * r + V(repeating: 5.0000001201e-1)
        p = p * (r * r) + r + V(repeating: 1)
        // 2^n for n in [-125, 128]: 2^(n-1) is a normal float whose exponent
        // bits are (n - 1 + 127); the extra factor 2 reaches 2^128.
        let nBits = unsafeBitCast(shifted, to: SIMD16<UInt32>.self) &- unsafeBitCast(magic, to: SIMD16<UInt32>.self)
        let scale = unsafeBitCast((nBits &+ 126) &<< 23, to: V.self)
        var result = p * scale * V(repeating: 2)
        result.replace(with: 0, where: x .< minInput)
        result.replace(with: .infinity, where: x .> maxInput)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// Scalar path for tails, same formula as the vector one.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        exp(V(repeating: x))[0]
    }

    /// x[i] = e^(x[i] − shift); returns Σ x[i] after the update.
    @inline(__always)
    public static func expShiftedInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        // Whole vectors in C (the same formula, every ISA; vmath.c).
        var sum = V(repeating: 0)
        withUnsafeMutableBytes(of: &sum) { scorek_exp_shifted(x, x, count / 16, shift, $0.baseAddress!.assumingMemoryBound(to: Float.self)) }
        let i = count / 16 * 16
        let s = V(repeating: shift)
        var total = sum.sum()
        if i < count {
            let rest = count - i
            var v = V(repeating: -.infinity)
            for j in 0..<rest { v[j] = x[i + j] }
            let e = exp(v - s)
            for j in 0..<rest {
                x[i + j] = e[j]
                total += e[j]
            }
        }
        return total
    }

    @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    public static func load(_ p: UnsafeMutablePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    public static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// max over x[0..<count] (−∞ for count 0).
    @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var i = 0
        var m = V(repeating: -.infinity)
        while i + 16 <= count {
            let v = load(x + i)
            m.replace(with: v, where: v .> m)
            i += 16
        }
        var result = m.max()
        while i < count {
            result = Swift.max(result, x[i])
            i += 1
        }
        return result
    }
}
