import Testing
import CKernels
import SCoReRuntime

/// Memory on huge pages (scorek_alloc) and the arena a model's packed
/// matrices share: where the bytes live must change nothing computed.
@Suite struct PageMemoryTests {
    @Test func allocationsAreAlignedAndWritable() {
        for bytes in [0, 1, 63, 4096, (2 << 20) - 1, 2 << 20, (5 << 20) + 123] {
            guard let p = scorek_alloc(bytes) else {
                Issue.record("scorek_alloc(\(bytes)) returned NULL")
                continue
            }
            let address = UInt(bitPattern: p)
            #expect(address % 64 == 0, "\(bytes) bytes at \(address)")
            if bytes >= 2 << 20 { #expect(address % UInt(2 << 20) == 0, "\(bytes) bytes not on a huge-page boundary") }
            // Every byte is ours: write the whole range and read it back.
            let bytesPointer = p.bindMemory(to: UInt8.self, capacity: max(bytes, 1))
            for i in stride(from: 0, to: bytes, by: 4093) { bytesPointer[i] = UInt8(truncatingIfNeeded: i) }
            if bytes > 0 { bytesPointer[bytes - 1] = 0xA5 }
            for i in stride(from: 0, to: bytes - 1, by: 4093) { #expect(bytesPointer[i] == UInt8(truncatingIfNeeded: i)) }
            if bytes > 0 { #expect(bytesPointer[bytes - 1] == 0xA5) }
            scorek_free(p)
        }
    }

    @Test func arenaPiecesAreAlignedDisjointAndWithinCapacity() {
        let sizes = [1, 64, 100, 3 << 20, 0, 7, 65]
        let arena = PageArena(pieces: sizes)
        var ranges: [Range<UInt>] = []
        for bytes in sizes {
            let p = UInt(bitPattern: arena.take(bytes: bytes))
            #expect(p % 64 == 0)
            ranges.append(p..<(p + UInt(bytes)))
        }
        let base = ranges[0].lowerBound
        for (i, r) in ranges.enumerated() {
            #expect(r.upperBound - base <= UInt(arena.capacity), "piece \(i) ends beyond the arena")
            for other in ranges[(i + 1)...] where !r.isEmpty && !other.isEmpty { #expect(!r.overlaps(other), "pieces overlap") }
        }
    }

    /// Packed into one arena or into a buffer each: the same panels, so the
    /// same products bit for bit (F32 and BF16 storage, both compute modes).
    @Test func arenaPackingEqualsOwnBuffers() {
        let k = 70, shapes = [33, 64, 5], m = 16
        let x = MatMulTests.random(m * k, seed: 9)
        for (storage, compute) in [("f32", ComputeMode.f32), ("bf16", .f32), ("f32", .bf16)] {
            let sources = shapes.enumerated().map { i, n in BF16WeightTests.randomMatrix(n * k, seed: UInt64(70 + i)) }
            func results(arena: Bool) -> [[UInt32]] {
                var out: [[UInt32]] = []
                for (i, source) in sources.enumerated() {
                    source.0.withUnsafeBufferPointer { h in
                        source.1.withUnsafeBufferPointer { f in
                            let w = storage == "f32" ? WeightMatrix(f32: f.baseAddress!, rows: shapes[i], cols: k)
                                                     : WeightMatrix(.bf16(h.baseAddress!), rows: shapes[i], cols: k)
                            let pieces = PageArena(pieces: [w.packedBytes(compute: compute)])
                            let packed = w.packed(compute: compute, in: arena ? pieces : nil)
                            #expect((packed.storage == nil) == arena)
                            var y = [Float](repeating: 0, count: m * shapes[i])
                            packed.matrix.multiply(x, rows: m, ldx: k, into: &y, ldo: shapes[i], accumulate: false)
                            out.append(y.map(\.bitPattern))
                        }
                    }
                }
                return out
            }
            #expect(results(arena: true) == results(arena: false), "\(storage) storage, \(compute) compute")
        }
    }
}
