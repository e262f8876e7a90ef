import CKernels

/// Keys and values of every processed position, per layer and KV head:
/// keys[l], values[l]: [kvHeads × capacity × headDim], head-major, so that
/// one head's keys over all positions are one contiguous run. Decoding reads
/// a head's keys and values as two sequential streams, which the hardware
/// prefetchers follow. Position-major rows made each head a strided read of
/// a third of every row: 16-sequence decoding at up to 288 keys went from 381
/// to 453 tokens/s on SmolLM2-135M with this layout (Zen 4, 2 threads).
///
/// Elements are F32, or BF16 (rounded to nearest even when stored) for a
/// model that computes in BF16: decoding reads the whole cache every step,
/// so half the bytes is half of attention's time, and a rollout's many
/// samples hold half the memory. F32 models keep F32 caches: their
/// log-probs must equal the trainer's, which attends over F32 keys.
///
/// Positions 0 ..< count are valid. One cache belongs to one sequence and
/// one thread at a time.
public final class KVCache: @unchecked Sendable {
    public enum Precision: String, Sendable {
        case f32, bf16
        public var bytes: Int { self == .f32 ? 4 : 2 }
    }

    public private(set) var capacity: Int
    public let heads: Int
    public let headDim: Int
    public let precision: Precision
    public internal(set) var count = 0
    /// Every layer's keys, then every layer's values, in one allocation.
    /// Small pages on purpose: a cache reserved for a long reply that stops
    /// early touches the start of every head's run, and on huge pages that
    /// would make the whole capacity resident (a 2 MiB page per touch).
    private var block: UnsafeMutableRawPointer
    private var keyRuns: [UnsafeMutableRawPointer]
    private var valueRuns: [UnsafeMutableRawPointer]

    public init(config: ModelConfig, capacity: Int, precision: Precision = .f32) {
        self.capacity = capacity
        self.precision = precision
        heads = config.kvHeadCount
        headDim = config.headDim
        (block, keyRuns, valueRuns) = KVCache.allocate(layers: config.layerCount, runBytes: capacity * config.kvDim * precision.bytes)
    }

    deinit { block.deallocate() }

    private static func allocate(layers: Int, runBytes: Int) -> (UnsafeMutableRawPointer, [UnsafeMutableRawPointer], [UnsafeMutableRawPointer]) {
        let run = max(64, (runBytes + 63) / 64 * 64)
        let block = UnsafeMutableRawPointer.allocate(byteCount: 2 * layers * run, alignment: 64)
        return (block, (0..<layers).map { block + $0 * run }, (0..<layers).map { block + (layers + $0) * run })
    }

    /// Elements between one head's run and the next.
    var headStride: Int { capacity * headDim }

    /// Layer l's keys and values as elements of type E (F32 for an F32
    /// cache, BF16 for a BF16 one).
    func keys<E>(_ l: Int, as _: E.Type) -> UnsafeMutablePointer<E> { keyRuns[l].assumingMemoryBound(to: E.self) }
    func values<E>(_ l: Int, as _: E.Type) -> UnsafeMutablePointer<E> { valueRuns[l].assumingMemoryBound(to: E.self) }

    /// Stores `rows` rows of [kvHeads·headDim] keys and values (the
    /// projections' layout) at positions `position ..< position + rows` of layer l.
    func store(layer l: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, position: Int, rows: Int) {
        let rowSize = heads * headDim
        for g in 0..<heads {
            let offset = g * headStride + position * headDim
            for r in 0..<rows {
                let source = r * rowSize + g * headDim, target = offset + r * headDim
                switch precision {
                case .f32:
                    (keys(l, as: Float.self) + target).update(from: k + source, count: headDim)
                    (values(l, as: Float.self) + target).update(from: v + source, count: headDim)
                case .bf16:
                    scorek_round_bf16(k + source, keyRuns[l].assumingMemoryBound(to: UInt16.self) + target, headDim)
                    scorek_round_bf16(v + source, valueRuns[l].assumingMemoryBound(to: UInt16.self) + target, headDim)
                }
            }
        }
    }

    /// Grows the cache to hold at least `needed` positions, keeping its
    /// contents. Rollouts grow turn by turn instead of reserving the whole
    /// context for every sample.
    public func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity + capacity / 2)
        let size = precision.bytes
        let (newBlock, newKeys, newValues) = KVCache.allocate(layers: keyRuns.count, runBytes: newCapacity * heads * headDim * size)
        for (old, new) in zip(keyRuns + valueRuns, newKeys + newValues) {
            for g in 0..<heads {
                (new + g * newCapacity * headDim * size).copyMemory(from: old + g * headStride * size, byteCount: count * headDim * size)
            }
        }
        block.deallocate()
        (block, keyRuns, valueRuns) = (newBlock, newKeys, newValues)
        capacity = newCapacity
    }

    /// Forgets positions from `length` on (e.g. to re-run a suffix).
    public func truncate(to length: Int) {
        count = min(count, max(0, length))
    }

    public var bytes: Int { 2 * keyRuns.count * capacity * heads * headDim * precision.bytes }
}

extension KVCache {
    /// Makes this cache hold a copy of `other`'s first `other.count` positions
    /// (k samples of one prompt share its prefill this way).
    public func copyPrefix(from other: KVCache) throws {
        guard other.heads == heads, other.headDim == headDim, other.keyRuns.count == keyRuns.count,
              other.precision == precision else {
            throw ScoreError.invalidArgument("KV caches of different models")
        }
        reserve(other.count)
        let size = precision.bytes
        for l in 0..<keyRuns.count {
            for g in 0..<heads {
                (keyRuns[l] + g * headStride * size).copyMemory(from: other.keyRuns[l] + g * other.headStride * size,
                                                                byteCount: other.count * headDim * size)
                (valueRuns[l] + g * headStride * size).copyMemory(from: other.valueRuns[l] + g * other.headStride * size,
                                                                  byteCount: other.count * headDim * size)
            }
        }
        count = other.count
    }
}
