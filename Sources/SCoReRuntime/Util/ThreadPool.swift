#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import CKernels

/// A fixed set of worker threads for our own kernels (OpenBLAS has its own).
///
/// `run(parts:)` hands out part indices through an atomic counter; the
/// calling thread works too, so `threads` threads share the parts. Workers
/// spin briefly after a job (decoding issues one job every few dozen
/// microseconds) and then sleep on a condition variable, so an idle pool
/// costs nothing. Jobs are not re-entrant: one `run` at a time per pool.
public final class ThreadPool: @unchecked Sendable {
    public let threads: Int

    private var job: ((Int) -> Void)? = nil
    private var parts = 0
    private let generation = Atomic<Int>(0)
    private let nextPart = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    /// Workers currently holding the job; changed only under `mutex`, so the
    /// caller can be sure none still references it when `run` returns.
    private let inside = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var workers: [pthread_t] = []

    /// The pool kernels use; resized by `ThreadPool.configure`.
    nonisolated(unsafe) public private(set) static var shared: ThreadPool = {
        _ = BLAS.prepare
        _ = KernelPath.prepare  // SCORE_KERNELS, before any product (every product splits over this pool)
        return ThreadPool(threads: max(1, BLAS.coreCount))
    }()
    private static let configureLock = Mutex<Void>(())

    /// The largest thread count `configure` accepts: max(256, 4 × cores).
    /// Beyond that threads only cost memory (a stack each) and scheduling.
    public static var maxThreads: Int { max(256, 4 * BLAS.coreCount) }

    /// Checks a requested thread count against 1...maxThreads.
    public static func validate(threads: Int) throws {
        guard threads >= 1, threads <= maxThreads else {
            throw ScoreError.invalidArgument("thread count \(threads) is out of range 1...\(maxThreads) (at most max(256, 4 x \(BLAS.coreCount) cores))")
        }
    }

    /// Sets the number of threads of the shared pool (which also splits
    /// every large matrix product). Throws `.invalidArgument` outside
    /// 1...maxThreads.
    public static func configure(threads: Int) throws {
        try validate(threads: threads)
        let n = threads
        _ = BLAS.prepare
        _ = KernelPath.prepare
        configureLock.withLock { _ in
            if shared.threads != n { shared = ThreadPool(threads: n) }
        }
    }

    public init(threads: Int) {
        self.threads = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for _ in 1..<self.threads {
            var thread = pthread_t()
            // Each worker owns a reference: pools live for the process.
            let context = Unmanaged.passRetained(self).toOpaque()
            pthread_create(&thread, nil, { arg in
                Unmanaged<ThreadPool>.fromOpaque(arg!).takeUnretainedValue().workerLoop()
                return nil
            }, context)
            pthread_detach(thread)
            workers.append(thread)
        }
    }

    // Pools live for the process: the shared one is replaced, not freed, on
    // reconfiguration (a worker may still be spinning on the old one), and
    // its workers' references keep it alive.

    /// Calls body(0 ..< parts), spread over the pool's threads; returns when all are done.
    public func run(parts: Int, _ body: (Int) -> Void) {
        if parts <= 0 { return }
        if threads == 1 || parts == 1 {
            for p in 0..<parts { body(p) }
            return
        }
        // An atomic, not a Mutex: Swift's Mutex lives in the uninstrumented
        // static runtime, where ThreadSanitizer cannot see it synchronise.
        let busy = !running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        if busy {  // a nested or concurrent call: do it inline
            for p in 0..<parts { body(p) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            pthread_mutex_lock(&mutex)
            job = escaping
            self.parts = parts
            nextPart.store(0, ordering: .relaxed)
            finished.store(0, ordering: .relaxed)
            generation.add(1, ordering: .releasing)
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            work()
            var waited = 0
            while finished.load(ordering: .acquiring) < parts {
                spinPause(waited)
                waited += 1
            }
            pthread_mutex_lock(&mutex)
            while inside.load(ordering: .acquiring) > 0 {
                pthread_mutex_unlock(&mutex)
                spinPause(Int.max)
                pthread_mutex_lock(&mutex)
            }
            job = nil
            pthread_mutex_unlock(&mutex)
        }
        running.store(false, ordering: .releasing)
    }

    private func work() {
        guard let job else { return }
        while true {
            let p = nextPart.add(1, ordering: .relaxed).oldValue
            if p >= parts { return }
            job(p)
            finished.add(1, ordering: .releasing)
        }
    }

    private func workerLoop() {
        var seen = generation.load(ordering: .acquiring)
        while true {
            // Spin a little: the next job usually follows within microseconds.
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < 20_000 {
                spinPause(spins)
                spins += 1
            }
            pthread_mutex_lock(&mutex)
            while generation.load(ordering: .acquiring) == seen {
                pthread_cond_wait(&wake, &mutex)
            }
            seen = generation.load(ordering: .acquiring)
            let hasJob = job != nil
            if hasJob { inside.add(1, ordering: .relaxed) }
            pthread_mutex_unlock(&mutex)
            if hasJob {
                work()
                inside.subtract(1, ordering: .releasing)
            }
        }
    }
}

/// One wait of a spin loop: the first rounds pause the core for a few
/// dozen cycles (the next job or the last part usually comes within
/// microseconds, and a system call would add its own microsecond); later
/// ones yield, which keeps a 2-core machine responsive when more threads
/// than cores are runnable.
@inline(__always)
private func spinPause(_ round: Int) {
    if round < 512 { scorek_cpu_relax() } else { sched_yield() }
}
