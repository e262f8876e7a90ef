/// Storage-type conversions to F32. Both are exact: every BF16 and F16 value
/// is representable in F32.
public enum Convert {
    public static func bf16ToF32(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let bits = UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
            dst[i] = Float(bitPattern: bits)
        }
    }

    public static func f16ToF32(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            dst[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        }
    }

    public static func f32Copy(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            dst[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
        }
    }
}

extension Convert {
    /// F32 to BF16, rounding to nearest even (NaN stays NaN), as torch and
    /// our packers (`scorek_bf16_round`) do.
    public static func f32ToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<BF16>, count: Int) {
        for i in 0..<count { dst[i] = BF16(rounding: src[i]) }
    }
}

extension BF16 {
    /// The nearest BF16 (ties to even); NaN stays a quiet NaN.
    @inline(__always)
    public init(rounding x: Float) {
        let u = x.bitPattern
        let nan = (u & 0x7fff_ffff) > 0x7f80_0000
        self.init(bits: UInt16(truncatingIfNeeded: nan ? (u >> 16) | 0x40 : (u &+ 0x7fff &+ ((u >> 16) & 1)) >> 16))
    }
}
