/// Where a SCoRe recipe run stands; saved as `score_state.json` inside
/// OUT/last with the weights it describes (the format score-cli train has
/// always written: its checkpoints resume).
public struct SCoReRecipeState: Sendable, Equatable {
    public static let file = "score_state.json"
    public static let format = "libscore-score-run"

    /// Index into the settings' phases, and steps done in it.
    public var phase = 0
    public var stepInStage = 0
    /// Steps done over all phases.
    public var step = 0
    /// Problems drawn so far (the data order is a function of it).
    public var dataPosition = 0
    /// The mean last-attempt training reward of the save window OUT/best
    /// was exported in, and the step that window ended at.
    public var bestReward: Double? = nil
    public var bestStep = 0
    /// Seconds of training in earlier sessions of the run (up to their last save).
    public var elapsed = 0.0

    public init() {}

    func json(_ settings: SCoReRecipeSettings, phases: [SCoReRecipePhase], problems: Int) -> JSON {
        let current = phases[min(phase, phases.count - 1)]
        return .object([
            ("format", .string(Self.format)), ("version", .int(1)),
            ("stage", .int(Int64(current.stage.rawValue))), ("round", .int(Int64(current.round))),
            ("phase", .int(Int64(phase))), ("step_in_stage", .int(Int64(stepInStage))), ("step", .int(Int64(step))),
            ("data_position", .int(Int64(dataPosition))), ("best_reward", bestReward.map { JSON.number($0) } ?? .null),
            ("best_step", .int(Int64(bestStep))), ("elapsed", JSON.number(elapsed)),
            ("settings", settings.fingerprint(problems: problems)),
        ])
    }

    /// The state in checkpoint `dir`, which must come from a run with
    /// `settings` over `problems` problems.
    static func read(_ dir: String, settings: SCoReRecipeSettings, problems: Int) throws -> SCoReRecipeState {
        let path = Files.join(dir, file)
        guard Files.exists(path) else {
            throw ScoreError.invalidArgument("\(dir) has no \(file): not a SCoRe recipe checkpoint (score-cli train, score_rl_run_recipe)")
        }
        let json = try Files.readJSON(path)
        guard json["format"]?.stringValue == format, json["version"]?.intValue == 1 else {
            throw ScoreError.format("\(path): not a \(format) version 1 state")
        }
        // Numbers as the file spells them: write, then read back.
        func normalised(_ fields: JSON) throws -> JSONObject? {
            try JSON.parse(try fields.serialized(indent: false), context: "settings").objectValue
        }
        guard let saved = json["settings"]?.objectValue, let wanted = try normalised(settings.fingerprint(problems: problems)),
              let optional = try normalised(.object(SCoReRecipeSettings.optionalFingerprint)) else {
            throw ScoreError.format("\(path): no settings")
        }
        // A key written only when it differs from its default is the default where it is absent.
        let keys = wanted.keys + optional.keys.filter { wanted[$0] == nil }
        let differing = keys.filter { (saved[$0] ?? optional[$0]) != (wanted[$0] ?? optional[$0]) }.map(settings.settingName)
        guard differing.isEmpty else {
            throw ScoreError.invalidArgument("\(dir) was trained with other settings (\(differing.joined(separator: ", "))); resume with the settings of the original run")
        }
        var state = SCoReRecipeState()
        guard let phase = json["phase"]?.intValue, let inStage = json["step_in_stage"]?.intValue, let step = json["step"]?.intValue,
              let position = json["data_position"]?.intValue, let bestStep = json["best_step"]?.intValue,
              let elapsed = json["elapsed"]?.doubleValue, phase >= 0, inStage >= 0, step >= 0, position >= 0 else {
            throw ScoreError.format("\(path): missing or invalid phase / step / data position")
        }
        (state.phase, state.stepInStage, state.step, state.dataPosition, state.bestStep, state.elapsed) = (phase, inStage, step, position, bestStep, elapsed)
        state.bestReward = json["best_reward"]?.doubleValue
        return state
    }
}

/// The order problems are drawn in: a fresh seeded shuffle every epoch, so
/// the number of problems drawn so far alone says which come next.
public struct SCoReProblemOrder: Sendable {
    public let count: Int
    public let seed: UInt64
    private var epoch = -1
    private var permutation: [Int] = []

    public init(count: Int, seed: UInt64) {
        precondition(count >= 1, "an order of no problems")
        self.count = count
        self.seed = seed
    }

    /// The index of the problem drawn at `position` (0-based over the whole run).
    public mutating func index(at position: Int) -> Int {
        if position / count != epoch {
            epoch = position / count
            var rng = TrainingRNG(seed: seed ^ 0xDA7A_0DE7, counter: UInt64(epoch) << 32)
            permutation = Array(0..<count)
            for i in stride(from: count - 1, to: 0, by: -1) { permutation.swapAt(i, Int(rng.nextUniform() * Double(i + 1))) }
        }
        return permutation[position % count]
    }
}
