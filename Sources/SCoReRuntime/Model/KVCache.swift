/// Keys and values of every processed position, per layer:
/// keys[l], values[l]: [capacity × kvHeads·headDim]. Positions 0 ..< count are valid.
/// One cache belongs to one sequence and one thread at a time.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    public let rowSize: Int
    public internal(set) var count = 0
    let keys: [FloatBuffer]
    let values: [FloatBuffer]

    public init(config: ModelConfig, capacity: Int) {
        self.capacity = capacity
        rowSize = config.kvDim
        keys = (0..<config.layerCount).map { _ in FloatBuffer(count: capacity * config.kvDim, zeroed: false) }
        values = (0..<config.layerCount).map { _ in FloatBuffer(count: capacity * config.kvDim, zeroed: false) }
    }

    /// Forgets positions from `length` on (e.g. to re-run a suffix).
    public func truncate(to length: Int) {
        count = min(count, max(0, length))
    }

    public var bytes: Int { 2 * keys.count * capacity * rowSize * 4 }
}
