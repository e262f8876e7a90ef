/// Supervised fine-tuning data: rows become token sequences with a loss
/// mask on the tokens the model should learn to produce.
///
/// JSONL, one object per line, any of:
///   {"input_ids": [...], "labels_mask": [...]}   pre-tokenized ("loss_mask" also accepted;
///                                                optional "weights")
///   {"prompt": "...", "completion": "..."}       loss on the completion (+ EOS)
///   {"messages": [{"role": ..., "content": ...}, ...]}  chat template; loss on assistant turns
/// CSV with a header holding question, original_answer, correct_answer (the
/// seed's `category,question,original_answer,correct_answer`): the SCoRe
/// warm-start conversation user: question / assistant: original_answer /
/// user: revision instruction / assistant: correct_answer, loss on the final answer.
///
/// Rows without any target token are skipped and reported, never trained on.
public struct SFTDataset {
    public var examples: [TrainingSequence] = []
    /// (row number from 1, reason) of rows left out.
    public var skipped: [(Int, String)] = []

    /// SCoRe's revision instruction (Kumar et al., 2024).
    public static let defaultInstruction = "There might be an error in the solution above because of lack of understanding of the question. Please correct the error, if any, and rewrite the solution."

    public struct TextTools {
        public let tokenizer: Tokenizer
        public let template: ChatTemplate?
        public let eos: Int32?
        public init(tokenizer: Tokenizer, template: ChatTemplate?, eos: Int32?) {
            self.tokenizer = tokenizer
            self.template = template
            self.eos = eos
        }
    }

    public static func load(path: String, text: TextTools?, vocabSize: Int, maxLength: Int,
                            instruction: String = defaultInstruction) throws -> SFTDataset {
        let bytes = try Files.readAll(path)
        guard let content = String(validating: bytes, as: UTF8.self) else { throw ScoreError.format("\(path): not valid UTF-8") }
        var data = SFTDataset()
        let rows: [(Int, Result<TrainingSequence, ScoreError>)]
        if path.hasSuffix(".csv") {
            rows = try csvRows(content, path: path).map { line, fields in
                (line, Result { try seedRow(fields, text: text, instruction: instruction, path: path, line: line) }.mapError(asScoreError))
            }
        } else {
            var out: [(Int, Result<TrainingSequence, ScoreError>)] = []
            for (i, line) in content.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if line.allSatisfy({ $0 == " " || $0 == "\r" || $0 == "\t" }) { continue }
                out.append((i + 1, Result { try jsonRow(String(line), text: text, path: path, line: i + 1) }.mapError(asScoreError)))
            }
            rows = out
        }
        for (line, result) in rows {
            switch result {
            case .failure(let e): throw e
            case .success(var s):
                if s.tokens.count > maxLength {
                    s.tokens = Array(s.tokens.prefix(maxLength))
                    s.mask = Array(s.mask.prefix(maxLength))
                    s.weights = s.weights.map { Array($0.prefix(maxLength)) }
                }
                if let bad = s.tokens.first(where: { $0 < 0 || Int($0) >= vocabSize }) {
                    throw ScoreError.format("\(path):\(line): token id \(bad) is outside the vocabulary (0..<\(vocabSize))")
                }
                if s.tokens.count < 2 || !s.mask.dropFirst().contains(where: { $0 > 0 }) {
                    data.skipped.append((line, "no target tokens (every loss-mask entry is 0)"))
                } else {
                    data.examples.append(s)
                }
            }
        }
        guard !data.examples.isEmpty else {
            throw ScoreError.invalidArgument("\(path): no usable rows (\(data.skipped.count) without target tokens)")
        }
        return data
    }

    private static func asScoreError(_ e: any Error) -> ScoreError {
        (e as? ScoreError) ?? .internal("\(e)")
    }

    static func jsonRow(_ line: String, text: TextTools?, path: String, line n: Int) throws -> TrainingSequence {
        let where_ = "\(path):\(n)"
        let json = try JSON.parse(line, context: where_)
        if let ids = json["input_ids"]?.arrayValue {
            let tokens = try ids.map { v -> Int32 in
                guard let i = v.intValue, let t = Int32(exactly: i) else { throw ScoreError.format("\(where_): input_ids must be integers") }
                return t
            }
            guard let maskJSON = (json["labels_mask"] ?? json["loss_mask"])?.arrayValue else {
                throw ScoreError.format("\(where_): 'input_ids' needs a 'labels_mask' list")
            }
            let mask = try floats(maskJSON, "labels_mask", where_)
            guard mask.count == tokens.count else { throw ScoreError.format("\(where_): \(mask.count) mask values for \(tokens.count) input_ids") }
            let weights = try json["weights"]?.arrayValue.map { try floats($0, "weights", where_) }
            if let w = weights, w.count != tokens.count { throw ScoreError.format("\(where_): \(w.count) weights for \(tokens.count) input_ids") }
            return TrainingSequence(tokens: tokens, mask: mask, weights: weights)
        }
        guard let text else {
            throw ScoreError.invalidArgument("\(where_): text rows need the model's tokenizer.json (or give pre-tokenized 'input_ids')")
        }
        if let prompt = json["prompt"]?.stringValue, let completion = json["completion"]?.stringValue {
            return try promptCompletion(prompt, completion, text: text)
        }
        if let messages = json["messages"]?.arrayValue {
            var list: [ChatMessage] = []
            for m in messages {
                guard let role = m["role"]?.stringValue, let content = m["content"]?.stringValue else {
                    throw ScoreError.format("\(where_): every message needs string 'role' and 'content'")
                }
                list.append(ChatMessage(role: role, content: content))
            }
            return try conversation(list, trainOn: Set(list.indices.filter { list[$0].role == "assistant" }), text: text, where_: where_)
        }
        throw ScoreError.format("\(where_): a row needs 'input_ids' + 'labels_mask', 'prompt' + 'completion', or 'messages'")
    }

    static func floats(_ values: [JSON], _ name: String, _ where_: String) throws -> [Float] {
        try values.map {
            guard let d = $0.doubleValue, d.isFinite else { throw ScoreError.format("\(where_): '\(name)' must hold finite numbers") }
            return Float(d)
        }
    }

    static func promptCompletion(_ prompt: String, _ completion: String, text: TextTools) throws -> TrainingSequence {
        let p = try text.tokenizer.encode(prompt, addSpecialTokens: true, parseSpecial: false)
        var c = try text.tokenizer.encode(completion, addSpecialTokens: false, parseSpecial: false)
        if let eos = text.eos, c.last != eos { c.append(eos) }
        return TrainingSequence(tokens: p + c, mask: Array(repeating: 0, count: p.count) + Array(repeating: 1, count: c.count))
    }

    /// Renders with the chat template; the tokens of message i (in `trainOn`)
    /// are those between the rendering of messages[..<i] with the generation
    /// prompt and the rendering of messages[...i]. Both must be prefixes of
    /// the whole conversation's tokens (true of the usual templates).
    static func conversation(_ messages: [ChatMessage], trainOn: Set<Int>, text: TextTools, where_: String) throws -> TrainingSequence {
        guard let template = text.template else {
            throw ScoreError.invalidArgument("\(where_): chat rows need a chat template (tokenizer_config.json)")
        }
        func ids(_ s: String) throws -> [Int32] { try text.tokenizer.encode(s, addSpecialTokens: false, parseSpecial: true) }
        let all = try ids(try template.render(messages: messages, addGenerationPrompt: false))
        var mask = [Float](repeating: 0, count: all.count)
        for i in trainOn.sorted() {
            let before = i == 0 ? [] : try ids(try template.render(messages: Array(messages[..<i]), addGenerationPrompt: true))
            let through = try ids(try template.render(messages: Array(messages[...i]), addGenerationPrompt: false))
            guard before.count <= through.count, Array(all.prefix(through.count)) == through, Array(through.prefix(before.count)) == before else {
                throw ScoreError.unsupported("\(where_): the chat template does not render turn \(i) as a prefix of the conversation")
            }
            for t in before.count..<through.count { mask[t] = 1 }
        }
        return TrainingSequence(tokens: all, mask: mask)
    }

    static func seedRow(_ f: [String: String], text: TextTools?, instruction: String, path: String, line: Int) throws -> TrainingSequence {
        guard let text else { throw ScoreError.invalidArgument("\(path): CSV rows need the model's tokenizer.json") }
        let (q, first, correct) = (f["question"]!, f["original_answer"]!, f["correct_answer"]!)
        let messages = [ChatMessage(role: "user", content: q), ChatMessage(role: "assistant", content: first),
                        ChatMessage(role: "user", content: instruction), ChatMessage(role: "assistant", content: correct)]
        if text.template != nil {
            return try conversation(messages, trainOn: [3], text: text, where_: "\(path):\(line)")
        }
        return try promptCompletion(q + "\n" + first + "\n" + instruction + "\n", correct, text: text)
    }

    /// RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes.
    /// Returns (line number, column → value) per data row.
    static func csvRows(_ content: String, path: String) throws -> [(Int, [String: String])] {
        var records: [(Int, [String])] = []
        var field = "", record: [String] = [], quoted = false, line = 1, recordLine = 1, atFieldStart = true
        var it = Array(content.unicodeScalars)[...]
        if it.first == "\u{FEFF}" { it = it.dropFirst() }
        var i = it.startIndex
        while i < it.endIndex {
            let c = it[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < it.endIndex && it[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { quoted = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" && atFieldStart {
                quoted = true
            } else if c == "," {
                record.append(field); field = ""; atFieldStart = true; i += 1; continue
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < it.endIndex && it[i + 1] == "\n" { i += 1 }
                record.append(field); field = ""
                if !(record.count == 1 && record[0].isEmpty) { records.append((recordLine, record)) }
                record = []; line += 1; recordLine = line; atFieldStart = true; i += 1; continue
            } else {
                field.unicodeScalars.append(c)
            }
            atFieldStart = false
            i += 1
        }
        if quoted { throw ScoreError.format("\(path):\(recordLine): unterminated quoted field") }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append((recordLine, record)) }
        guard let (_, header) = records.first else { throw ScoreError.format("\(path): empty CSV file") }
        let names = header.map { $0.trimmingCharacters() }
        let required = ["question", "original_answer", "correct_answer"]
        let missing = required.filter { !names.contains($0) }
        guard missing.isEmpty else {
            throw ScoreError.format("\(path): CSV header lacks column(s) \(missing.joined(separator: ", ")) (has: \(names.joined(separator: ", ")); expected category,question,original_answer,correct_answer)")
        }
        return try records.dropFirst().map { n, values in
            guard values.count == names.count else {
                throw ScoreError.format("\(path):\(n): \(values.count) fields, the header has \(names.count)")
            }
            var row: [String: String] = [:]
            for (k, v) in zip(names, values) { row[k] = v }
            return (n, row)
        }
    }
}

extension String {
    func trimmingCharacters() -> String {
        let s = unicodeScalars.drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" })
        return String(String.UnicodeScalarView(s.reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed()))
    }
}
