import CKernels

/// The storage types a weight matrix can stay in while we compute with it.
///
/// Compute is always F32. A BF16 value is the top half of an F32, so
/// widening is a 16-bit shift: exact, and cheap enough to do on the fly
/// while streaming a matrix from memory. Decoding reads every weight once
/// per step and is bound by memory bandwidth, so keeping BF16 weights as
/// BF16 halves the bytes read per token.
public protocol MatrixElement: Sendable {
    /// What one step of a row widens to.
    associatedtype Chunk
    /// Elements per step.
    static var step: Int { get }
    /// One step of a row, starting at `p`.
    static func load(_ p: UnsafePointer<Self>) -> Chunk
    /// acc + Σ chunk · x over one step; `x` points into the activation row
    /// laid out by `arrange` at the same offset.
    static func multiplyAdd(_ acc: SIMD16<Float>, _ w: Chunk, _ x: UnsafePointer<Float>) -> SIMD16<Float>
    /// One element, widened to F32 (the tail of a row shorter than a step).
    static func widen(_ p: UnsafePointer<Self>) -> Float
    /// Whether activation rows must be rearranged (see `arrange`).
    static var rearrangesActivations: Bool { get }
    /// Copies an activation row of length k into the order `multiplyAdd` reads.
    static func arrange(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count k: Int)
}

extension Float: MatrixElement {
    public typealias Chunk = SIMD16<Float>
    public static var step: Int { 16 }

    @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always)
    public static func multiplyAdd(_ acc: SIMD16<Float>, _ w: SIMD16<Float>, _ x: UnsafePointer<Float>) -> SIMD16<Float> {
        acc.addingProduct(w, UnsafeRawPointer(x).loadUnaligned(as: SIMD16<Float>.self))
    }

    @inline(__always)
    public static func widen(_ p: UnsafePointer<Float>) -> Float { p.pointee }

    public static var rearrangesActivations: Bool { false }

    public static func arrange(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count k: Int) {
        out.update(from: x, count: k)
    }
}

/// Brain float 16, as safetensors stores it (dtype "BF16"): sign, 8-bit
/// exponent, 7-bit mantissa; the bit pattern of an F32 with its low 16 bits cut.
///
/// A step is 32 elements read as sixteen 32-bit lanes: each lane holds an
/// even element in its low half and the next odd one in its high half, so
/// `lane << 16` is the even element as an F32 and `lane & 0xFFFF0000` the
/// odd one: two integer operations widen 32 weights, no shuffles. The
/// activations are rearranged once per product to match (evens, then odds).
public struct BF16: MatrixElement, Equatable {
    public var bits: UInt16

    public init(bits: UInt16) { self.bits = bits }

    public typealias Chunk = (SIMD16<Float>, SIMD16<Float>)
    public static var step: Int { 32 }

    @inline(__always)
    public static func load(_ p: UnsafePointer<BF16>) -> (SIMD16<Float>, SIMD16<Float>) {
        let lanes = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt32>.self)
        return (unsafeBitCast(lanes &<< 16, to: SIMD16<Float>.self),
                unsafeBitCast(lanes & SIMD16(repeating: 0xFFFF_0000), to: SIMD16<Float>.self))
    }

    @inline(__always)
    public static func multiplyAdd(_ acc: SIMD16<Float>, _ w: (SIMD16<Float>, SIMD16<Float>),
                                   _ x: UnsafePointer<Float>) -> SIMD16<Float> {
        acc.addingProduct(w.0, UnsafeRawPointer(x).loadUnaligned(as: SIMD16<Float>.self))
           .addingProduct(w.1, UnsafeRawPointer(x + 16).loadUnaligned(as: SIMD16<Float>.self))
    }

    @inline(__always)
    public static func widen(_ p: UnsafePointer<BF16>) -> Float {
        Float(bitPattern: UInt32(p.pointee.bits) << 16)
    }

    public static var rearrangesActivations: Bool { true }

    /// Within each whole step: the 16 even elements, then the 16 odd ones;
    /// the tail stays in order.
    public static func arrange(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count k: Int) {
        var t = 0
        while t + 32 <= k {
            for i in 0..<16 {
                out[t + i] = x[t + 2 * i]
                out[t + 16 + i] = x[t + 2 * i + 1]
            }
            t += 32
        }
        while t < k {
            out[t] = x[t]
            t += 1
        }
    }

    /// Widens `count` elements into `dst` (exact); the loader's conversion.
    public static func widen(_ src: UnsafePointer<BF16>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        Convert.bf16ToF32(UnsafeRawPointer(src), dst, count: count)
    }
}

/// A 64-byte aligned BF16 allocation we own; freed on deinit.
public final class BF16Buffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<BF16>
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = allocatePages(bytes: max(count, 1) * 2).bindMemory(to: BF16.self, capacity: max(count, 1))
    }

    deinit { scorek_free(pointer) }

    public var bytes: Int { count * 2 }
}
