#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

enum TokenizeCommand {
    static let help = """
    usage: score-cli tokenize DIR "text" [--json] [--no-special] [--parse-special]
           score-cli tokenize DIR --bench FILE [--repeat N] [--json]

    Tokenizes text with DIR/tokenizer.json (and tokenizer_config.json) and
    prints the ids and token strings.

      --no-special     do not add the post-processor's special tokens (BOS...)
      --parse-special  read special-token text ("<|im_end|>") in the input as
                       special tokens; by default it is plain text
      --bench FILE     encode FILE (UTF-8) whole, N times (default 5), on one
                       thread, and report the best throughput in MB/s
    """

    static let valueOptions: Set<String> = ["bench", "repeat"]
    static let flagOptions: Set<String> = ["help", "json", "no-special", "parse-special"]

    static func run(_ args: Arguments) throws {
        if let file = args.options["bench"] {
            guard args.positional.count == 1 else { throw UsageError("tokenize --bench takes exactly one tokenizer directory") }
            try bench(directory: args.positional[0], file: file, repeats: try args.int("repeat", default: 5, range: 1...1000),
                      json: args.flags.contains("json"))
            return
        }
        guard args.positional.count == 2 else { throw UsageError("tokenize takes a tokenizer directory and the text") }
        let tokenizer = try Tokenizer.load(directory: args.positional[0])
        let ids = try tokenizer.encode(args.positional[1], addSpecialTokens: !args.flags.contains("no-special"),
                                       parseSpecial: args.flags.contains("parse-special"))
        let tokens = ids.map { tokenizer.tokenText($0) ?? "" }
        if args.flags.contains("json") {
            print("{\"ids\": \(ids), \"tokens\": [\(tokens.map(jsonString).joined(separator: ", "))]}")
            return
        }
        print("\(ids.count) tokens: \(ids.map(String.init).joined(separator: ","))")
        for (id, token) in zip(ids, tokens) { print(String(id).leftPad(8) + "  " + jsonString(token)) }
    }

    static func bench(directory: String, file: String, repeats: Int, json: Bool) throws {
        let tokenizer = try Tokenizer.load(directory: directory)
        let bytes = try Files.readAll(file)
        var best = Double.infinity
        var count = 0
        try bytes.withUnsafeBufferPointer { text in
            for _ in 0..<repeats {
                let start = now()
                count = try tokenizer.encode(utf8: text, addSpecialTokens: false, parseSpecial: true).count
                best = min(best, now() - start)
            }
        }
        let mbPerSecond = Double(bytes.count) / 1e6 / best
        if json {
            try printJSON([("bytes", jsonInt(bytes.count)), ("tokens", jsonInt(count)), ("seconds", JSON.number(best)),
                           ("mb_per_s", JSON.number(mbPerSecond))])
        } else {
            print("\(bytes.count) bytes -> \(count) tokens in \(best) s (best of \(repeats)): \(mbPerSecond) MB/s")
        }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// A JSON string literal (also a readable, unambiguous rendering of a token).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
