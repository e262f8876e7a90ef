import CKernels

/// A 64-byte aligned F32 allocation we own; freed on deinit. Used for
/// converted weights and for scratch memory carved into views.
public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int, zeroed: Bool = true) {
        self.count = count
        pointer = allocatePages(bytes: max(count, 1) * 4).bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
    }

    deinit { scorek_free(pointer) }

    public var bytes: Int { count * 4 }
}

/// 64-byte aligned memory; from 2 MiB up on transparent huge pages where
/// the kernel grants them, so streaming weights (decoding reads every one
/// each step) costs fewer TLB misses. Traps when memory runs out, as
/// `allocate` does.
func allocatePages(bytes: Int) -> UnsafeMutableRawPointer {
    guard let p = scorek_alloc(bytes) else { fatalError("out of memory allocating \(bytes) bytes") }
    return p
}

/// One allocation carved into 64-byte aligned pieces, freed together: a
/// model's packed matrices share its huge pages, where a buffer each would
/// leave every matrix smaller than a huge page on small pages.
public final class PageArena: @unchecked Sendable {
    private let base: UnsafeMutableRawPointer
    public let capacity: Int
    private var used = 0

    /// Room for pieces of these sizes (each rounded up to 64 bytes).
    public init(pieces: [Int]) {
        capacity = max(64, pieces.reduce(0) { $0 + PageArena.rounded($1) })
        base = allocatePages(bytes: capacity)
    }

    deinit { scorek_free(base) }

    static func rounded(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }

    /// The next piece; asking for more than the sizes given at init is a bug.
    public func take(bytes: Int) -> UnsafeMutableRawPointer {
        precondition(used + PageArena.rounded(bytes) <= capacity, "PageArena: \(bytes) bytes asked beyond its capacity")
        defer { used += PageArena.rounded(bytes) }
        return base + used
    }
}
