import Testing
import SCoReRuntime

/// SFT data: which tokens each row format trains on, and bad rows.
@Suite struct SFTDataTests {
    static let tokenizerDir = String(Fixtures.root.dropLast("models".count)) + "tokenizers/qwen2"

    static func tools() throws -> SFTDataset.TextTools {
        let tok = try Tokenizer.load(directory: tokenizerDir)
        return SFTDataset.TextTools(tokenizer: tok, template: try ChatTemplate.load(directory: tokenizerDir),
                                    eos: tok.eosTokenIds.first)
    }

    static func masked(_ s: TrainingSequence) -> [Int32] { s.tokens.indices.filter { s.mask[$0] > 0 }.map { s.tokens[$0] } }

    @Test func chatRowsTrainOnAssistantTurnsOnly() throws {
        let tmp = TempDir()
        tmp.write("chat.jsonl", """
        {"messages": [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "More"}, {"role": "assistant", "content": "Sure thing"}]}

        """)
        let t = try Self.tools()
        let data = try SFTDataset.load(path: tmp.file("chat.jsonl"), text: t, vocabSize: t.tokenizer.vocabSize, maxLength: 4096)
        #expect(data.examples.count == 1)
        let text = try t.tokenizer.decode(Self.masked(data.examples[0]))
        #expect(text == "Hello!<|im_end|>\nSure thing<|im_end|>\n")
    }

    @Test func promptCompletionAndSeedCSV() throws {
        let tmp = TempDir()
        tmp.write("pc.jsonl", "{\"prompt\": \"Question: 2+2?\", \"completion\": \" 4\"}\n")
        tmp.write("seed.csv", "category,question,original_answer,correct_answer\r\nmath,\"What is 1,5 + 1?\",\"2,5\nmaybe\",\"He said \"\"2.5\"\"\"\r\n")
        let t = try Self.tools()
        let pc = try SFTDataset.load(path: tmp.file("pc.jsonl"), text: t, vocabSize: t.tokenizer.vocabSize, maxLength: 4096)
        #expect(try t.tokenizer.decode(Self.masked(pc.examples[0])) == " 4<|im_end|>")
        let csv = try SFTDataset.load(path: tmp.file("seed.csv"), text: t, vocabSize: t.tokenizer.vocabSize, maxLength: 4096)
        #expect(try t.tokenizer.decode(Self.masked(csv.examples[0])) == "He said \"2.5\"<|im_end|>\n")
        let all = try t.tokenizer.decode(csv.examples[0].tokens)
        #expect(all.contains("What is 1,5 + 1?") && all.contains("2,5\nmaybe") && all.contains(SFTDataset.defaultInstruction))
    }

    @Test func badRows() throws {
        let tmp = TempDir()
        let t = try Self.tools()
        func load(_ name: String, _ content: String, text: SFTDataset.TextTools? = nil) throws -> SFTDataset {
            tmp.write(name, content)
            return try SFTDataset.load(path: tmp.file(name), text: text, vocabSize: 128, maxLength: 64)
        }
        // Rows with no target tokens are skipped, and a file of only those is an error.
        let some = try load("a.jsonl", "{\"input_ids\": [1, 2, 3], \"labels_mask\": [0, 0, 0]}\n{\"input_ids\": [1, 2, 3], \"labels_mask\": [0, 1, 1]}\n")
        #expect(some.examples.count == 1 && some.skipped.map(\.0) == [1])
        #expect(throws: ScoreError.self) { try load("b.jsonl", "{\"input_ids\": [1, 2, 3], \"labels_mask\": [0, 0, 0]}\n") }
        #expect(throws: ScoreError.self) { try load("c.jsonl", "{\"input_ids\": [1, 2, 3], \"labels_mask\": [0, 1]}\n") }
        #expect(throws: ScoreError.self) { try load("d.jsonl", "{\"input_ids\": [1, 2, 300], \"labels_mask\": [0, 1, 1]}\n") }
        #expect(throws: ScoreError.self) { try load("e.jsonl", "{\"text\": \"no known keys\"}\n", text: t) }
        #expect(throws: ScoreError.self) { try load("f.jsonl", "{\"prompt\": \"tokenizer needed\", \"completion\": \"x\"}\n") }
        #expect(throws: ScoreError.self) { try load("g.jsonl", "not json\n") }
        // CSV: missing columns, ragged rows, unterminated quotes.
        #expect(throws: ScoreError.self) { try load("h.csv", "category,question,answer\nx,y,z\n", text: t) }
        #expect(throws: ScoreError.self) { try load("i.csv", "category,question,original_answer,correct_answer\nx,y,z\n", text: t) }
        #expect(throws: ScoreError.self) { try load("j.csv", "category,question,original_answer,correct_answer\nx,\"y,z,w\n", text: t) }
        // Long rows are truncated, not rejected.
        let long = try load("k.jsonl", "{\"input_ids\": [\(Array(repeating: "5", count: 100).joined(separator: ","))], \"labels_mask\": [\(Array(repeating: "1", count: 100).joined(separator: ","))]}\n")
        #expect(long.examples[0].tokens.count == 64)
    }
}
