#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

/// score-cli correct: the generate-then-revise loop over a JSONL file.
enum CorrectCommand {
    static let help = """
    usage: score-cli correct DIR --in problems.jsonl --out attempts.jsonl [options]

    For every problem, samples attempt 1, appends the revision instruction as
    tokens after attempt 1's own tokens, samples attempt 2 (and so on), and
    writes one JSON line per sample: {"problem_index", "sample", "problem",
    "attempts": [{"text", "tokens", "logprobs", "finish_reason"}], ...} plus
    the input line's other fields (e.g. "answer"). Input lines need
    "problem" (or "question"). The output appears only when complete.

    options:
      --samples K             samples per problem (default 1)
      --attempts N            attempts per sample (default 2)
      --instruction TEXT      revision instruction (default: the SCoRe paper's)
      --task-prompt TEXT      turn-1 message, "{problem}" replaced (default "{problem}")
      --system TEXT           system message
      --batch B               problems decoded together (default 16)
      --max-new-tokens N      per attempt (default 256)
      --temperature T  --top-k K  --top-p P  --min-p P  --seed S
    """

    static let valueOptions: Set<String> = ["in", "out", "samples", "attempts", "instruction", "task-prompt", "system",
                                            "batch", "max-new-tokens", "temperature", "top-k", "top-p", "min-p",
                                            "seed", "threads"]

    static func run(_ args: Arguments) throws {
        guard args.positional.count == 1 else { throw UsageError("correct takes exactly one model directory") }
        guard let input = args.options["in"] else { throw UsageError("correct needs --in problems.jsonl") }
        guard let output = args.options["out"] else { throw UsageError("correct needs --out attempts.jsonl") }
        let samples = try args.int("samples", default: 1, range: 1...1024)
        let attempts = try args.int("attempts", default: 2, range: 1...64)
        let batch = try args.int("batch", default: 16, range: 1...4096)
        func float(_ name: String, _ def: Float) throws -> Float {
            guard let t = args.options[name] else { return def }
            guard let v = Float(t), v.isFinite else { throw UsageError("--\(name) must be a number, got '\(t)'") }
            return v
        }
        let sampling = SamplingParams(temperature: try float("temperature", 1),
                                      topK: try args.int("top-k", default: 0, range: 0...Int(Int32.max)),
                                      topP: try float("top-p", 1), minP: try float("min-p", 0))
        try sampling.validate()
        let params = GenerationParams(maxNewTokens: try args.int("max-new-tokens", default: 256, range: 1...1 << 20),
                                      sampling: sampling)
        var format = RevisionFormat()
        if let t = args.options["instruction"] { format.instruction = t }
        if let t = args.options["task-prompt"] { format.taskPrompt = t }
        format.systemPrompt = args.options["system"]

        let rows = try readProblems(input)
        let model = try Model.load(directory: args.positional[0], options: modelLoadOptions)
        let session = Session(model: model, seed: UInt64(try args.int("seed", default: 0, range: 0...Int.max)))
        var lines: [String] = []
        var done = 0, tokens = 0
        let start = BenchCommand.now()
        var first = 0
        while first < rows.count {
            let chunk = Array(rows[first..<min(rows.count, first + batch)])
            let rollouts = try session.selfCorrect(problems: chunk.map(\.problem), samples: samples, attempts: attempts,
                                                   format: format, params: params)
            for r in rollouts {
                let row = chunk[r.problem]
                var pairs: [(String, JSON)] = [
                    ("problem_index", .int(Int64(first + r.problem))), ("sample", .int(Int64(r.sample))),
                    ("problem", .string(row.problem)),
                    ("attempts", .array(r.attempts.map { a in
                        JSON.object([("text", .string(a.text)),
                                     ("tokens", .array(a.tokens.map { .int(Int64($0)) })),
                                     ("logprobs", .array(a.logProbs.map { JSON.number($0) })),
                                     ("finish_reason", .string("\(a.finishReason)"))])
                    })),
                ]
                if case .object(let o) = row.json {
                    for k in o.keys where !["problem", "question", "problem_index", "sample", "attempts"].contains(k) {
                        pairs.append((k, o[k]!))
                    }
                }
                lines.append(try JSON.object(pairs).serialized(indent: false))
                tokens += r.attempts.reduce(0) { $0 + $1.tokens.count }
            }
            first += chunk.count
            done = first
            progress(done, rows.count, tokens: tokens, seconds: BenchCommand.now() - start)
        }
        printErr("")
        try writeAtomically(output, lines.joined(separator: "\n") + "\n")
    }

    struct Row {
        let problem: String
        let json: JSON
    }

    static func readProblems(_ path: String) throws -> [Row] {
        let bytes = try Files.readAll(path)
        var rows: [Row] = []
        for (n, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            let json = try JSON.parse(Array(line), context: "\(path) line \(n + 1)")
            guard let problem = json["problem"]?.stringValue ?? json["question"]?.stringValue else {
                throw ScoreError.format("\(path) line \(n + 1): no \"problem\" (or \"question\") string")
            }
            rows.append(Row(problem: problem, json: json))
        }
        guard !rows.isEmpty else { throw ScoreError.format("\(path): no problems") }
        return rows
    }

    static func progress(_ done: Int, _ total: Int, tokens: Int, seconds: Double) {
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let rate = seconds > 0 ? Double(tokens) / seconds : 0
        let eta = done > 0 ? seconds / Double(done) * Double(total - done) : 0
        let text = "\r[\(bar)] \(done)/\(total) problems  \(Int(rate)) tok/s  ETA \(Int(eta))s"
        writeAll(2, text)
    }

    /// Writes beside the target and renames: a killed run leaves no half file.
    static func writeAtomically(_ path: String, _ text: String) throws {
        let temporary = path + ".partial"
        guard let f = fopen(temporary, "wb") else { throw ScoreError.io("\(path): cannot write: \(String(cString: strerror(errno)))") }
        var text = text
        let ok = text.withUTF8 { fwrite($0.baseAddress, 1, $0.count, f) } == text.utf8.count
        let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
        fclose(f)
        guard ok && flushed, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ScoreError.io("\(path): write failed: \(String(cString: strerror(errno)))")
        }
    }
}
