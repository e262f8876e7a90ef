#if canImport(Glibc)
import Glibc
#endif
import CMPIShim
import SCoReRuntime

/// The workers of a run started by `mpirun -np N score-cli ...` (Open MPI or
/// MPICH, found through the environment their launchers set), as the core's
/// `Collective`. A process not started by mpirun is a single process, and
/// never loads MPI.
final class MPIWorkers: Collective, @unchecked Sendable {
    let rank: Int
    let size: Int

    private init() {
        rank = Int(scorempi_rank())
        size = Int(scorempi_size())
    }

    /// The collective of this process: MPI's when a launcher started more than one.
    static func fromEnvironment() throws -> Collective {
        let names: [String] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]
        let launched = names.compactMap { name -> Int? in getenv(name).map { Int(String(cString: $0)) ?? 1 } }
        guard let size = launched.first, size > 1 else { return SingleProcess.shared }
        var error = [CChar](repeating: 0, count: 1024)
        guard scorempi_init(&error, error.count) == 0 else {
            throw ScoreError.io("started by mpirun with \(size) ranks, but " + String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        atexit { scorempi_finalize() }
        return MPIWorkers()
    }

    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        guard scorempi_sum_f32(values.baseAddress, values.count) == 0 else { throw ScoreError.io("MPI: summing over the workers failed") }
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        guard scorempi_sum_f64(values.baseAddress, values.count) == 0 else { throw ScoreError.io("MPI: summing over the workers failed") }
    }

    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard scorempi_broadcast(bytes.baseAddress, bytes.count, Int32(root)) == 0 else { throw ScoreError.io("MPI: broadcast failed") }
    }

    func barrier() throws {
        guard scorempi_barrier() == 0 else { throw ScoreError.io("MPI: barrier failed") }
    }
}
