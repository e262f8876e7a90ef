#if canImport(Glibc)
import Glibc
#endif

/// What data-parallel training needs from its workers' transport: each
/// worker trains on its share of every global batch, and the gradients and
/// statistics are summed across workers before the optimiser step, so every
/// worker applies the identical update.
///
/// Sums are in rank order ((g0 + g1) + g2 ...) and every worker receives
/// the same bits: implementations must not let the reduction order depend
/// on timing. With that, N workers equal one process that sums the same N
/// shards in the same order (`TrainerConfig.gradientShards`) bit for bit.
public protocol Collective: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `values` on every worker with the elementwise sum over workers.
    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws
    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Copies `root`'s bytes to every worker.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws
    func barrier() throws
}

extension Collective {
    /// `values` summed over workers (a copy).
    public func sum(_ values: [Double]) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try sum($0) }
        return v
    }

    /// This worker's contiguous share of `count` items (`WorkerShare`).
    public func share(of count: Int) -> Range<Int> { WorkerShare.range(of: count, rank: rank, size: size) }
}

/// How `count` items are split over workers: contiguous, in rank order, the
/// first `count % size` workers taking one more.
public enum WorkerShare {
    public static func range(of count: Int, rank: Int, size: Int) -> Range<Int> {
        let base = count / size, extra = count % size
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }
}

/// One process, no transport: every operation is a no-op.
public final class SingleProcess: Collective {
    public static let shared = SingleProcess()
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    public func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {}
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func barrier() throws {}
}

/// N workers as N threads of one process (tests, and hosts that run
/// several trainers side by side): buffers are exchanged through shared
/// memory and summed in rank order by every worker.
public final class ThreadGroup: @unchecked Sendable {
    public let size: Int
    private var slots: [UnsafeMutableRawBufferPointer?]
    private let condition = Condition()

    public init(size: Int) {
        precondition(size >= 1)
        self.size = size
        slots = Array(repeating: nil, count: size)
        condition.parties = size
    }

    /// The collective of worker `rank`.
    public func worker(_ rank: Int) -> Collective { Member(group: self, rank: rank) }

    /// Waits until every worker has arrived (each publishing `slot`), runs
    /// `body` over all slots, and waits until every worker has finished it.
    fileprivate func exchange(_ rank: Int, _ slot: UnsafeMutableRawBufferPointer?, _ body: ([UnsafeMutableRawBufferPointer?]) -> Void) {
        condition.wait { slots[rank] = slot }
        body(slots)
        condition.wait {}
    }

    /// A reusable barrier for `size` threads.
    private final class Condition: @unchecked Sendable {
        private var mutex = pthread_mutex_t()
        private var cond = pthread_cond_t()
        private var count = 0, generation = 0
        var parties = 1
        init() {
            pthread_mutex_init(&mutex, nil)
            pthread_cond_init(&cond, nil)
        }
        func wait(_ before: () -> Void) {
            pthread_mutex_lock(&mutex)
            before()
            let g = generation
            count += 1
            if count == parties {
                count = 0
                generation += 1
                pthread_cond_broadcast(&cond)
            } else {
                while g == generation { pthread_cond_wait(&cond, &mutex) }
            }
            pthread_mutex_unlock(&mutex)
        }
    }

    private final class Member: Collective, @unchecked Sendable {
        let group: ThreadGroup
        let rank: Int
        var size: Int { group.size }
        init(group: ThreadGroup, rank: Int) {
            self.group = group
            self.rank = rank
        }

        func sum(_ values: UnsafeMutableBufferPointer<Float>) throws { try sumElements(values) }
        func sum(_ values: UnsafeMutableBufferPointer<Double>) throws { try sumElements(values) }

        private func sumElements<T: BinaryFloatingPoint>(_ values: UnsafeMutableBufferPointer<T>) throws {
            let total = UnsafeMutableBufferPointer<T>.allocate(capacity: values.count)
            defer { total.deallocate() }
            group.exchange(rank, UnsafeMutableRawBufferPointer(values)) { slots in
                for i in 0..<values.count {
                    var s = slots[0]!.assumingMemoryBound(to: T.self)[i]
                    for r in 1..<slots.count { s += slots[r]!.assumingMemoryBound(to: T.self)[i] }
                    total[i] = s
                }
            }
            _ = values.update(fromContentsOf: total)
        }

        func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
            defer { copy.deallocate() }
            group.exchange(rank, bytes) { slots in copy.copyMemory(from: UnsafeRawBufferPointer(slots[root]!)) }
            bytes.copyMemory(from: UnsafeRawBufferPointer(copy))
        }

        func barrier() throws { group.exchange(rank, nil) { _ in } }
    }
}
