import SCoReRuntime

enum LogprobsCommand {
    static let help = """
    usage: score-cli logprobs DIR (--ids 1,2,3 | --text "...") [--json] [--threads N]

    Prints log p(token_i | tokens before it) for every token after the first,
    and their sum. --text is tokenized with DIR/tokenizer.json, special tokens
    (BOS) added and special-token text in it read as plain text. With --json,
    a log-prob that is NaN or infinite is written as null.
    """

    static func run(_ args: Arguments) throws {
        guard args.positional.count == 1 else { throw UsageError("logprobs takes exactly one model directory") }
        let idsText = args.options["ids"], text = args.options["text"]
        guard (idsText == nil) != (text == nil) else { throw UsageError("logprobs needs --ids (comma-separated token ids) or --text") }
        var ids = try idsText.map(parseIds) ?? []
        let model = try Model.load(directory: args.positional[0], options: modelLoadOptions)
        if let text {
            guard let tokenizer = model.tokenizer else {
                throw ScoreError.invalidArgument("\(args.positional[0]): --text needs a tokenizer.json in the model directory")
            }
            ids = try tokenizer.encode(text, addSpecialTokens: true, parseSpecial: false)
        }
        let lp = try model.logProbs(tokens: ids)
        let total = lp.reduce(0, +)
        if args.flags.contains("json") {
            try printJSON([("ids", jsonInts(ids)), ("logprobs", jsonNumbers(lp)), ("sum", JSON.number(total))])
            return
        }
        print("position  token  logprob")
        for (i, v) in lp.enumerated() {
            print(String(i + 1).leftPad(8) + "  " + String(ids[i + 1]).leftPad(5) + "  " + format(v))
        }
        print("sum " + format(total) + " over \(lp.count) tokens")
    }

    /// "1, 2,3" -> [1, 2, 3]; anything else is a usage error.
    static func parseIds(_ text: String) throws -> [Int32] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map {
            guard let v = Int32($0.trimmingSpaces) else { throw UsageError("--ids: '\($0)' is not an integer token id") }
            return v
        }
    }

    static func format(_ v: Float) -> String {
        let scaled = (Double(v) * 1e6).rounded() / 1e6
        return String(scaled)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
