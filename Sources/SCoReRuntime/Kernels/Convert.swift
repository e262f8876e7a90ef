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
