/// Keys and values of every processed position, per layer:
/// keys[l], values[l]: [capacity × kvHeads·headDim]. Positions 0 ..< count are valid.
/// One cache belongs to one sequence and one thread at a time.
public final class KVCache: @unchecked Sendable {
    public private(set) var capacity: Int
    public let rowSize: Int
    public internal(set) var count = 0
    private(set) var keys: [FloatBuffer]
    private(set) var values: [FloatBuffer]

    public init(config: ModelConfig, capacity: Int) {
        self.capacity = capacity
        rowSize = config.kvDim
        keys = (0..<config.layerCount).map { _ in FloatBuffer(count: capacity * config.kvDim, zeroed: false) }
        values = (0..<config.layerCount).map { _ in FloatBuffer(count: capacity * config.kvDim, zeroed: false) }
    }

    /// Grows the cache to hold at least `needed` positions, keeping its
    /// contents. Rollouts grow turn by turn instead of reserving the whole
    /// context for every sample.
    public func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity + capacity / 2)
        func grow(_ old: FloatBuffer) -> FloatBuffer {
            let b = FloatBuffer(count: newCapacity * rowSize, zeroed: false)
            b.pointer.update(from: old.pointer, count: count * rowSize)
            return b
        }
        keys = keys.map(grow)
        values = values.map(grow)
        capacity = newCapacity
    }

    /// Forgets positions from `length` on (e.g. to re-run a suffix).
    public func truncate(to length: Int) {
        count = min(count, max(0, length))
    }

    public var bytes: Int { 2 * keys.count * capacity * rowSize * 4 }
}

extension KVCache {
    /// Makes this cache hold a copy of `other`'s first `other.count` positions
    /// (k samples of one prompt share its prefill this way).
    public func copyPrefix(from other: KVCache) throws {
        guard other.rowSize == rowSize, other.keys.count == keys.count else {
            throw ScoreError.invalidArgument("KV caches of different models")
        }
        reserve(other.count)
        for l in 0..<keys.count {
            keys[l].pointer.update(from: other.keys[l].pointer, count: other.count * rowSize)
            values[l].pointer.update(from: other.values[l].pointer, count: other.count * rowSize)
        }
        count = other.count
    }
}
