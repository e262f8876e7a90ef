#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime

/// Tokenizers trained with Hugging Face `tokenizers` (tools/make_tokenizer_fixtures.py)
/// and that library's ids and decodings: we must match every string exactly.
enum TokenizerFixtures {
    static let root: String = {
        let testsDir = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/")
        return testsDir + "/Fixtures/tokenizers"
    }()

    static let families = ["gpt2", "gpt2-legacy-merges", "llama3", "qwen2", "smollm2", "llama2", "mistral", "misc", "nfkc"]

    static func directory(_ family: String) -> String { root + "/" + family }

    struct Case {
        let text: String
        let ids: [Int32]
        let idsNoSpecial: [Int32]
        let idsPlain: [Int32]
        let decoded: String?
        let decodedSkip: String?
        let pieces: [String]?
    }

    static func cases(_ family: String) throws -> [Case] {
        let json = try Files.readJSON(directory(family) + "/expected.json")
        func ids(_ v: JSON?) -> [Int32] { (v?.arrayValue ?? []).map { Int32($0.intValue ?? -1) } }
        return (json["cases"]?.arrayValue ?? []).map { c in
            Case(text: c["text"]?.stringValue ?? "", ids: ids(c["ids"]), idsNoSpecial: ids(c["ids_no_special"]),
                 idsPlain: ids(c["ids_plain"]), decoded: c["decoded"]?.stringValue, decodedSkip: c["decoded_skip"]?.stringValue,
                 pieces: c["pieces"]?.arrayValue?.compactMap { $0.stringValue })
        }
    }
}

@Suite struct TokenizerFixtureTests {
    @Test(arguments: TokenizerFixtures.families)
    func encodeAndDecodeMatchTheReference(family: String) throws {
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.directory(family))
        let cases = try TokenizerFixtures.cases(family)
        #expect(cases.count >= 100)
        var exact = 0
        var failures: [String] = []
        for c in cases {
            var ok = true
            func check<T: Equatable>(_ what: String, _ got: T, _ want: T) {
                if got != want {
                    ok = false
                    if failures.count < 8 { failures.append("\(what) of \(String(reflecting: c.text)): got \(got), want \(want)") }
                }
            }
            check("ids", try tokenizer.encode(c.text), c.ids)
            check("ids without special tokens", try tokenizer.encode(c.text, addSpecialTokens: false), c.idsNoSpecial)
            check("ids with special text as plain text", try tokenizer.encode(c.text, parseSpecial: false), c.idsPlain)
            if let d = c.decoded { check("decode", try tokenizer.decode(c.ids), d) }
            if let d = c.decodedSkip { check("decode skipping special tokens", try tokenizer.decode(c.ids, skipSpecialTokens: true), d) }
            if ok { exact += 1 }
        }
        let rate = Double(exact) / Double(cases.count) * 100
        print("tokenizer family \(family): \(exact)/\(cases.count) strings exact (\(rate)%)")
        #expect(exact == cases.count, "\(family): \(failures.joined(separator: "\n"))")
    }

    @Test(arguments: TokenizerFixtures.families)
    func streamingEqualsWholeDecode(family: String) throws {
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.directory(family))
        for c in try TokenizerFixtures.cases(family) {
            for skip in [false, true] {
                let stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skip)
                let whole = try tokenizer.decode(c.ids, skipSpecialTokens: skip)
                var text = ""
                for id in c.ids {
                    text += try stream.push(id)
                    // Never half a character: a split character would show up
                    // as U+FFFD where the whole text has the real one.
                    #expect(whole.utf8.starts(with: text.utf8), "\(family) \(String(reflecting: c.text)): \(String(reflecting: text))")
                }
                text += try stream.finish()
                #expect(text == whole, "\(family) \(String(reflecting: c.text)) skip=\(skip)")
            }
        }
    }

    @Test(arguments: ["gpt2", "llama3", "qwen2"])
    func splitPatternsMatchTheReference(family: String) throws {
        let pattern = ["gpt2": PreTokenizerPatterns.gpt2, "llama3": PreTokenizerPatterns.llama3, "qwen2": PreTokenizerPatterns.qwen2][family]!
        for c in try TokenizerFixtures.cases(family) {
            guard let pieces = c.pieces else { continue }
            #expect(try PreTokenizerPatterns.split(c.text, pattern: pattern) == pieces, "\(family): \(String(reflecting: c.text))")
        }
    }

    /// \p{L}, \p{N} and \s of every code point agree with the reference's regex engine.
    @Test func characterClassesMatchTheReference() throws {
        let json = try Files.readJSON(TokenizerFixtures.root + "/unicode_classes.json")
        var mismatches: [String] = []
        var checked = 0
        for r in json["ranges"]?.arrayValue ?? [] {
            guard let a = r.arrayValue, a.count == 3, let lo = a[0].intValue, let hi = a[1].intValue, let k = a[2].stringValue else { continue }
            for v in lo...hi {
                checked += 1
                let got = PreTokenizerPatterns.characterClass(UInt32(v))
                if got != k && mismatches.count < 20 { mismatches.append("U+\(String(v, radix: 16, uppercase: true)): \(got) vs \(k)") }
            }
        }
        #expect(checked == 0x110000 - 0x800)
        #expect(mismatches.isEmpty, "\(mismatches)")
    }
}
