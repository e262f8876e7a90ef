/// How far a long call got, and a way to stop it. The handler gets the
/// phase ("rollout", "rewards", "reference", "update", "evaluate"), the
/// units done and the total of that phase (tokens while generating,
/// attempts while scoring rewards, sequences while scoring or updating),
/// and returns false to stop. A stopped call throws `ScoreError.aborted`
/// and leaves its object as before the call: no optimiser step is ever
/// half applied, no random stream consumed.
public typealias ProgressHandler = (_ phase: String, _ done: Int, _ total: Int) -> Bool

enum Progress {
    /// Calls `handler`; throws `.aborted` when it asks to stop.
    static func report(_ handler: ProgressHandler?, _ phase: String, _ done: Int, _ total: Int) throws {
        guard let handler, !handler(phase, done, total) else { return }
        throw ScoreError.aborted("stopped by the progress callback during \(phase) (\(done) of \(total))")
    }
}
