/// The RL data reader (score-cli train / eval).
/// Problems with reference answers, from JSONL: one {"problem", "answer"}
/// object per line ("question" for the problem; "reference", "solution" or
/// "tests" for the answer). Blank lines are skipped.
public struct ProblemSet {
    public var problems: [String] = []
    public var answers: [String] = []
    public var rows: [JSON] = []
    public var count: Int { problems.count }

    public init() {}

    public static func load(_ path: String) throws -> ProblemSet {
        let bytes = try Files.readAll(path)
        var set = ProblemSet()
        for (n, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            let json = try JSON.parse(Array(line), context: "\(path) line \(n + 1)")
            guard let problem = text(json, ["problem", "question"]) else {
                throw ScoreError.format("\(path) line \(n + 1): no \"problem\" (or \"question\") string")
            }
            guard let answer = text(json, ["answer", "reference", "solution", "tests"]) else {
                throw ScoreError.format("\(path) line \(n + 1): no \"answer\" (or \"reference\", \"solution\", \"tests\")")
            }
            set.problems.append(problem)
            set.answers.append(answer)
            set.rows.append(json)
        }
        guard !set.problems.isEmpty else { throw ScoreError.format("\(path): no problems") }
        return set
    }

    /// The first of `keys` that holds a string, a number (as written, e.g. 5
    /// or 0.25) or a list of strings (unit tests, one per line).
    private static func text(_ json: JSON, _ keys: [String]) -> String? {
        for key in keys {
            switch json[key] {
            case .string(let s)?: return s
            case .int(let i)?: return String(i)
            case .double(let d)? where d.isFinite: return "\(d)"
            case .array(let items)? where !items.isEmpty && items.allSatisfy({ $0.stringValue != nil }):
                return items.compactMap(\.stringValue).joined(separator: "\n")
            default: continue
            }
        }
        return nil
    }
}
