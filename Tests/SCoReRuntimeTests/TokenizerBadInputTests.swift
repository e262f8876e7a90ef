#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime

/// Malformed or unsupported tokenizer files, invalid text and ids, and huge
/// inputs: each is a clear error or a correct result, never a crash or a hang.
@Suite struct TokenizerBadInputTests {
    func fixtureJSON(_ family: String) throws -> String {
        String(decoding: try Files.readAll(TokenizerFixtures.directory(family) + "/tokenizer.json"), as: UTF8.self)
    }

    /// Loads tokenizer.json text; returns the error.
    func loadError(_ text: String) -> ScoreError? {
        let dir = TempDir()
        dir.write("tokenizer.json", text)
        do {
            _ = try Tokenizer.load(directory: dir.path)
            return nil
        } catch let e as ScoreError {
            return e
        } catch {
            return .internal("\(error)")
        }
    }

    @Test func malformedJSONIsAFormatError() {
        guard case .format(let m)? = loadError("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0,") else {
            Issue.record("expected a format error")
            return
        }
        #expect(m.contains("tokenizer.json"))
        #expect(loadError("[]").map { if case .format = $0 { true } else { false } } == true)
    }

    /// Tables indexed by id are sized by the largest id: one id of 2^31 - 1
    /// used to abort the process (a 32 GB allocation) and 2^28 took 20 s
    /// and 4.2 GB. Ids must stay below entries + 2^20; sparse ids within
    /// that still load.
    @Test func absurdTokenIdsAreFormatErrors() throws {
        let text = try fixtureJSON("gpt2")  // 600 vocabulary entries, "!" is id 1
        #expect(text.contains("\"!\": 1,"))
        for id in [Int(Int32.max), 1 << 28, 600 + 1 + (1 << 20)] {
            let e = loadError(text.replacing("\"!\": 1,", with: "\"!\": \(id),"))
            #expect(e?.statusCode == 3 && e!.message.contains("'!' has id \(id)") && e!.message.contains("far beyond"), "\(String(describing: e))")
        }
        let added = loadError(text.replacing("\"id\": 0,", with: "\"id\": 2147483647,"))
        #expect(added?.statusCode == 3 && added!.message.contains("added token") && added!.message.contains("2147483647"), "\(String(describing: added))")
        // A sparse but plausible numbering loads.
        let dir = TempDir()
        dir.write("tokenizer.json", text.replacing("\"!\": 1,", with: "\"!\": 1600,"))
        let sparse = try Tokenizer.load(directory: dir.path)
        #expect(sparse.vocabSize == 1601 && sparse.tokenText(1600) == "!")
    }

    @Test func mergeWithATokenOutsideTheVocabulary() throws {
        let text = try fixtureJSON("gpt2-legacy-merges")
        // The first merge of the file, with its left token renamed to something absent.
        let start = try #require(text.firstRange(of: "\"merges\": [")).upperBound
        let quote = try #require(text[start...].firstIndex(of: "\""))
        let broken = text[..<text.index(after: quote)] + "ZZZ_absent" + text[text.index(after: quote)...]
        guard case .format(let m)? = loadError(String(broken)) else {
            Issue.record("expected a format error")
            return
        }
        #expect(m.contains("ZZZ_absent") && m.contains("not in the vocabulary"), "\(m)")
        // Pair form too.
        let pairs = try fixtureJSON("gpt2")
        let s2 = try #require(pairs.firstRange(of: "\"merges\": [")).upperBound
        let q2 = try #require(pairs[s2...].firstIndex(of: "\""))
        let broken2 = pairs[..<pairs.index(after: q2)] + "QQ_absent" + pairs[pairs.index(after: q2)...]
        #expect(loadError(String(broken2))?.message.contains("QQ_absent") == true)
    }

    /// Found by fuzzing (Tests/Fixtures/fuzz/tokenizer-load): a TemplateProcessing
    /// special token whose id was one past the vocabulary was added to every
    /// encoding, an id that no decode and no model accepts.
    @Test func postProcessorIdOutsideTheVocabulary() throws {
        let text = try fixtureJSON("gpt2")  // 600 tokens, ids 0..<600
        func withTemplateId(_ id: Int) -> String {
            let processor = """
                "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                  {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [\(id)], "tokens": ["<s>"]}}},
                "replaced_post_processor": {
                """
            return text.replacing("\"post_processor\": {", with: processor)
        }
        guard case .format(let m)? = loadError(withTemplateId(600)) else {
            Issue.record("expected a format error")
            return
        }
        #expect(m.contains("post_processor adds token id 600") && m.contains("0..<600"), "\(m)")
        let bert = text.replacing("\"post_processor\": {",
                                             with: "\"post_processor\": {\"type\": \"BertProcessing\", \"cls\": [\"c\", 1], \"sep\": [\"s\", 70000]}, \"x\": {")
        #expect(loadError(bert)?.message.contains("token id 70000") == true)
        // The last id of the vocabulary is fine.
        let dir = TempDir()
        dir.write("tokenizer.json", withTemplateId(599))
        let tokenizer = try Tokenizer.load(directory: dir.path)
        #expect(try tokenizer.encode("hi").first == 599)
    }

    @Test func unsupportedConfigurationsNameThemselves() throws {
        let text = try fixtureJSON("gpt2")
        let cases: [(String, String, String)] = [
            ("\"normalizer\": null", "\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"\"}", "Precompiled"),
            ("\"normalizer\": null", "\"normalizer\": {\"type\": \"BertNormalizer\"}", "BertNormalizer"),
            ("\"type\": \"BPE\"", "\"type\": \"WordPiece\"", "WordPiece"),
            ("\"pre_tokenizer\": {", "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\d+\"}, \"behavior\": \"Isolated\", \"invert\": false}, \"x\": {", "pattern"),
            ("\"decoder\": {", "\"decoder\": {\"type\": \"WordPiece\"}, \"x\": {", "WordPiece"),
        ]
        for (find, replace, name) in cases {
            let range = try #require(text.firstRange(of: find), "\(find)")
            var edited = text
            edited.replaceSubrange(range, with: replace)
            let error = loadError(edited)
            guard case .unsupported(let m)? = error else {
                Issue.record("\(name): expected an unsupported error, got \(String(describing: error))")
                continue
            }
            #expect(m.contains(name), "\(m)")
        }
    }

    @Test func invalidUTF8IsAnError() throws {
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.directory("qwen2"))
        for bad: [UInt8] in [[0xFF], [0x61, 0xC3], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0xE2, 0x82]] {
            #expect(throws: ScoreError.self) {
                _ = try bad.withUnsafeBufferPointer { try tokenizer.encode(utf8: $0) }
            }
        }
        let good = Array("한국어 ok".utf8)
        #expect(try good.withUnsafeBufferPointer { try tokenizer.encode(utf8: $0) } == (try tokenizer.encode("한국어 ok")))
    }

    @Test func idsOutsideTheVocabularyAreErrors() throws {
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.directory("llama2"))
        #expect(throws: ScoreError.self) { _ = try tokenizer.decode([1, 2, Int32(tokenizer.vocabSize)]) }
        #expect(throws: ScoreError.self) { _ = try tokenizer.decode([-1]) }
        #expect(throws: ScoreError.self) { _ = try StreamingDetokenizer(tokenizer: tokenizer).push(1 << 30) }
        #expect(tokenizer.tokenText(Int32.max) == nil)
        #expect(try tokenizer.decode([]) == "")
    }

    func seconds(_ body: () throws -> Void) rethrows -> Double {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_MONOTONIC, &a)
        try body()
        clock_gettime(CLOCK_MONOTONIC, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) * 1e-9
    }

    /// Megabytes of text: the same ids as the pieces encoded separately, in linear time.
    @Test(arguments: ["llama3", "gpt2", "qwen2"])
    func megabytesOfText(family: String) throws {
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.directory(family))
        let chunk = "The quick brown fox, 안녕하세요 世界 12345 🍕 <|im_end|> code(x) {y}\n"
        let once = try tokenizer.encode(chunk, addSpecialTokens: false, parseSpecial: false)
        let copies = (10 << 20) / chunk.utf8.count  // the issue's 10 MB
        let big = String(repeating: chunk, count: copies)
        var ids: [Int32] = []
        let t = try seconds { ids = try tokenizer.encode(big, addSpecialTokens: false, parseSpecial: false) }
        #expect(ids.count == once.count * copies)
        #expect(Array(ids.prefix(once.count * 3)) == once + once + once)
        #expect(t < 30, "\(family): 10 MB took \(t) s")
    }

    /// One enormous word (no pre-tokenizer splits it): the heap merge path, no quadratic blowup.
    @Test(arguments: ["llama2", "llama3"])
    func oneHugeWord(family: String) throws {
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.directory(family))
        let word = String(repeating: "abcdefgh", count: 1 << 18)  // 2 MB
        var ids: [Int32] = []
        let t = try seconds { ids = try tokenizer.encode(word, addSpecialTokens: false) }
        #expect(!ids.isEmpty)
        #expect(try tokenizer.decode(ids).hasSuffix("abcdefgh"))
        #expect(t < 30, "\(family): a 2 MB word took \(t) s")
    }
}
