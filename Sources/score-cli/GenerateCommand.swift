#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

enum GenerateCommand {
    static let help = """
    usage: score-cli generate DIR "prompt text" [options]
           score-cli generate DIR --ids 1,2,3 [options]

    Continues a prompt and streams the new text (or, for --ids, the new
    token ids) to stdout. Text is tokenized with DIR/tokenizer.json, special
    tokens added as the tokenizer defines them; special-token text inside the
    prompt stays plain text unless --parse-special. --chat wraps the prompt
    as a user message with the model's chat template.

    options:
      --max-new-tokens N      default 128
      --temperature T         0 = greedy (default 1)
      --top-k K  --top-p P  --min-p P  --repetition-penalty R
      --seed S                default 0
      --samples N             N samples of the prompt in one batch (default 1)
      --json                  one JSON object per sample at the end instead of streaming
                              (a log-prob that is NaN or infinite is written as null)
    """

    static let valueOptions: Set<String> = ["ids", "max-new-tokens", "temperature", "top-k", "top-p", "min-p",
                                            "repetition-penalty", "seed", "samples", "threads"]

    static func run(_ args: Arguments) throws {
        guard args.positional.count == 1 || args.positional.count == 2 else {
            throw UsageError("generate takes a model directory and a prompt (or --ids)")
        }
        guard (args.positional.count == 2) != (args.options["ids"] != nil) else {
            throw UsageError("give either a prompt text or --ids, not both")
        }
        func float(_ name: String, _ def: Float) throws -> Float {
            guard let t = args.options[name] else { return def }
            guard let v = Float(t), v.isFinite else { throw UsageError("--\(name) must be a number, got '\(t)'") }
            return v
        }
        let sampling = SamplingParams(
            temperature: try float("temperature", 1), topK: try args.int("top-k", default: 0, range: 0...Int(Int32.max)),
            topP: try float("top-p", 1), minP: try float("min-p", 0),
            repetitionPenalty: try float("repetition-penalty", 1))
        let seed = UInt64(try args.int("seed", default: 0, range: 0...Int.max))
        let samples = try args.int("samples", default: 1, range: 1...4096)
        let params = GenerationParams(maxNewTokens: try args.int("max-new-tokens", default: 128, range: 0...1 << 20), sampling: sampling)
        try sampling.validate()
        let model = try Model.load(directory: args.positional[0], options: modelLoadOptions)
        var ids: [Int32]
        var detokenizer: StreamingDetokenizer? = nil
        if let text = args.options["ids"] {
            ids = try LogprobsCommand.parseIds(text)
        } else {
            guard let tokenizer = model.tokenizer else {
                throw ScoreError.invalidArgument("\(model.directory) has no tokenizer.json; use --ids")
            }
            var prompt = args.positional[1]
            if args.flags.contains("chat") {
                prompt = try ChatTemplate.load(directory: model.directory).render(
                    messages: [ChatMessage(role: "user", content: prompt)], addGenerationPrompt: true)
            }
            let chat = args.flags.contains("chat")
            ids = try tokenizer.encode(prompt, addSpecialTokens: !chat, parseSpecial: chat || args.flags.contains("parse-special"))
            detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true)
        }
        let session = Session(model: model, seed: seed)
        let json = args.flags.contains("json")
        var streamError: Error? = nil
        let results = try session.generate(prompts: Array(repeating: ids, count: samples), params: params) { i, token in
            if !json && i == 0 {
                // Unbuffered: the user watches it stream.
                if let d = detokenizer {
                    do { printOut(try d.push(token)) } catch { streamError = error; return false }
                } else {
                    printOut("\(token) ")
                }
            }
            return true
        }
        if let streamError { throw streamError }
        if let d = detokenizer, !json { printOut(try d.finish()) }
        if json {
            for r in results {
                try printJSON([("tokens", jsonInts(r.tokens)), ("logprobs", jsonNumbers(r.logProbs)),
                               ("finish_reason", .string("\(r.finishReason)"))])
            }
        } else {
            printOut("\n")
            for (i, r) in results.enumerated() where i > 0 {
                if let tokenizer = model.tokenizer, detokenizer != nil {
                    printOut("sample \(i): " + (try tokenizer.decode(r.tokens, skipSpecialTokens: true)) + "\n")
                    continue
                }
                printOut("sample \(i): " + r.tokens.map(String.init).joined(separator: " ") + "\n")
            }
            let fr = results.map { "\($0.finishReason)" }.joined(separator: ",")
            printErr("[\(results.map(\.tokens.count).reduce(0, +)) tokens, finish: \(fr)]")
        }
    }
}

func printErr(_ line: String) {
    writeAll(2, line + "\n")
}

func printOut(_ text: String) {
    writeAll(1, text)
}

/// Writes every UTF-8 byte of `text` (by its length, not up to a NUL: a
/// generated NUL character must not cut the output short).
func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}
