#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime

/// Data-parallel SCoRe: N workers (threads here, MPI ranks in production),
/// each rolling out and differentiating its share of the problems, take the
/// same steps as one process that sums the same N shards in the same order,
/// bit for bit, and end with identical weights.
@Suite struct DataParallelTests {
    static let problems = ["What is 2 + 3?", "Compute 12 * 4.", "What is 7 - 5?", "Name a colour.", "What is 3 * 3?"]
    static let references = ["5", "48", "2", "red", "9"]

    static func trainer() throws -> SCoReTrainer {
        var config = SCoReConfig()
        config.samplesPerProblem = 2
        config.maxNewTokens = 4
        config.microBatchSize = 3
        var training = TrainerConfig.scoreDefaults()
        training.optimizer.learningRate = 1e-2
        return try SCoReTrainer(model: try Model.load(directory: Fixtures.model("qwen2-chat")), config: config, training: training)
    }

    static func reward(_ problem: String, _ attempt: String, _ reference: String) -> Float {
        Float(attempt.unicodeScalars.filter { $0.properties.numericType != nil }.count % 2)
    }

    struct Run {
        var stats: [SCoReStepStats] = []
        var weights: [Float] = []
    }

    static func train(_ t: SCoReTrainer, steps: Int) throws -> Run {
        var run = Run()
        for step in 0..<steps {
            if step == 2 { t.config.objective.stage = .two }
            run.stats.append(try t.step(problems: problems, references: references, reward: reward))
        }
        let values = t.trainer.model.values
        run.weights = Array(UnsafeBufferPointer(start: values.pointer, count: values.count))
        return run
    }

    /// One slot per thread, written under a lock: threads must not mutate one array together.
    final class PerThread<T>: @unchecked Sendable {
        private var slots: [T]
        private var mutex = pthread_mutex_t()
        init(_ count: Int, _ initial: T) {
            slots = Array(repeating: initial, count: count)
            pthread_mutex_init(&mutex, nil)
        }
        func set(_ rank: Int, _ value: T) {
            pthread_mutex_lock(&mutex)
            slots[rank] = value
            pthread_mutex_unlock(&mutex)
        }
        var values: [T] {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            return slots
        }
    }

    /// Runs body(rank) on `count` threads and waits for all.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        final class Box: @unchecked Sendable { let body: (Int) -> Void; let rank: Int; init(_ b: @escaping (Int) -> Void, _ r: Int) { body = b; rank = r } }
        var threads: [pthread_t] = []
        for rank in 0..<count {
            var thread = pthread_t()
            let box = Unmanaged.passRetained(Box(body, rank)).toOpaque()
            pthread_create(&thread, nil, { arg in
                let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
                box.body(box.rank)
                return nil
            }, box)
            threads.append(thread)
        }
        for t in threads { pthread_join(t, nil) }
    }

    @Test(arguments: [2, 3]) func workersEqualOneProcessSummingTheirShards(workers: Int) throws {
        let single = try Self.trainer()
        single.emulatedWorkers = workers
        let reference = try Self.train(single, steps: 3)

        let group = ThreadGroup(size: workers)
        let runs = PerThread<Run?>(workers, nil), errors = PerThread<String?>(workers, nil)
        let trainers = try (0..<workers).map { _ in try Self.trainer() }
        for (rank, t) in trainers.enumerated() { t.collective = group.worker(rank) }
        nonisolated(unsafe) let shared = trainers
        Self.onThreads(workers) { rank in
            do { runs.set(rank, try Self.train(shared[rank], steps: 3)) } catch { errors.set(rank, "\(error)") }
        }
        #expect(errors.values.allSatisfy { $0 == nil }, "\(errors.values)")
        for (rank, run) in runs.values.enumerated() {
            guard let run else { Issue.record("worker \(rank) returned nothing"); continue }
            #expect(run.weights.elementsEqual(reference.weights), "worker \(rank)'s weights differ from the single process's")
            for (a, b) in zip(run.stats, reference.stats) {
                #expect(a.rewardPerTurn == b.rewardPerTurn && a.klPerTurn == b.klPerTurn && a.loss == b.loss && a.gradNorm == b.gradNorm)
                #expect(a.rollouts == b.rollouts && a.generatedTokens == b.generatedTokens && a.zeroSignalFraction == b.zeroSignalFraction)
                #expect(a.answerChangeRate == b.answerChangeRate && a.step == b.step)
            }
        }
        #expect(reference.stats.contains { $0.gradNorm > 0 }, "no step moved the policy")
        #expect(reference.stats.first?.rollouts == Self.problems.count * 2)
    }

    @Test func concurrentTrainersAreIndependent() throws {
        let alone = try Self.train(try Self.trainer(), steps: 1)
        let runs = PerThread<Run?>(2, nil)
        let trainers = try (0..<2).map { _ in try Self.trainer() }
        nonisolated(unsafe) let shared = trainers
        Self.onThreads(2) { rank in runs.set(rank, try? Self.train(shared[rank], steps: 1)) }
        for r in 0..<2 {
            #expect(runs.values[r]?.weights.elementsEqual(alone.weights) == true, "trainer \(r) run concurrently differs")
            #expect(runs.values[r]?.stats[0].gradNorm == alone.stats[0].gradNorm)
        }
    }

    /// The debug check stops a run whose workers' weights drifted apart.
    @Test func workersThatDriftApartAreCaught() throws {
        let group = ThreadGroup(size: 2)
        let trainers = try (0..<2).map { _ in try Self.trainer() }
        for (rank, t) in trainers.enumerated() {
            t.collective = group.worker(rank)
            t.trainer.checkWorkers = true
        }
        trainers[1].trainer.model.values.pointer[0] += 1e-3  // worker 1 drifted
        let errors = PerThread<String>(2, "")
        nonisolated(unsafe) let shared = trainers
        Self.onThreads(2) { rank in
            do { _ = try shared[rank].step(problems: Self.problems, references: Self.references, reward: Self.reward) }
            catch { errors.set(rank, "\(error)") }
        }
        #expect(errors.values.allSatisfy { $0.contains("weights differ after step 1") }, "\(errors.values)")
    }

    /// Summing in shards changes only the rounding: one process, 1 or 2 shards.
    @Test func shardsChangeOnlyTheRounding() throws {
        let one = try Self.train(try Self.trainer(), steps: 1)
        let two = try Self.trainer()
        two.emulatedWorkers = 2
        let split = try Self.train(two, steps: 1)
        let worst = zip(one.weights, split.weights).map { abs($0 - $1) / max(1e-3, abs($0)) }.max() ?? 0
        #expect(worst < 1e-4, "relative difference \(worst)")
        #expect(one.stats[0].rewardPerTurn == split.stats[0].rewardPerTurn)
    }

    @Test func sharesAreContiguousAndCoverEverything() {
        for size in 1...5 {
            for count in 0...11 {
                let ranges = (0..<size).map { WorkerShare.range(of: count, rank: $0, size: size) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == count)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect(ranges.allSatisfy { $0.count == count / size || $0.count == count / size + 1 })
            }
        }
    }
}
