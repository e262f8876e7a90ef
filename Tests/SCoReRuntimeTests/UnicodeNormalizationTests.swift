import Testing
import SCoReRuntime

/// NFC, NFD, NFKD and NFKC against Hugging Face `tokenizers`' normalizers
/// (tools/make_tokenizer_fixtures.py -> Tests/Fixtures/tokenizers/normalization.json):
/// ~200 tricky strings, and runs of every code point the reference decomposes
/// plus every combining mark after a base letter.
@Suite struct UnicodeNormalizationTests {
    static let forms: [(String, UnicodeNormalization.Form)] = [("nfc", .nfc), ("nfd", .nfd), ("nfkd", .nfkd), ("nfkc", .nfkc)]

    static func fixture() throws -> JSON {
        try Files.readJSON(TokenizerFixtures.root + "/normalization.json")
    }

    static func hex(_ s: String) -> String {
        s.unicodeScalars.map { String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
    }

    @Test(arguments: ["cases", "runs"])
    func formsMatchTheReference(section: String) throws {
        let cases = try Self.fixture()[section]?.arrayValue ?? []
        #expect(cases.count >= (section == "cases" ? 200 : 100))
        var checked = 0, mismatches = 0
        var failures: [String] = []
        for c in cases {
            let text = c["text"]?.stringValue ?? ""
            for (key, form) in Self.forms {
                guard let want = c[key]?.stringValue else { continue }
                checked += 1
                let got = UnicodeNormalization.normalize(text, form)
                // Compare scalars: Swift's String == is canonical equivalence.
                if !got.unicodeScalars.elementsEqual(want.unicodeScalars) {
                    mismatches += 1
                    if failures.count < 10 { failures.append("\(key)(\(Self.hex(text))): got \(Self.hex(got)), want \(Self.hex(want))") }
                }
            }
        }
        print("unicode normalization \(section): \(checked - mismatches)/\(checked) exact")
        #expect(checked > 0)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// The NFC normalizer uses the standard library (Unicode 17); it may differ
    /// from the reference (Unicode 9.0) only on characters assigned since.
    @Test func standardLibraryNFCDiffersOnlyOnNewCharacters() throws {
        var differing: [String] = []
        for c in try Self.fixture()["cases"]?.arrayValue ?? [] {
            let text = c["text"]?.stringValue ?? ""
            guard let want = c["nfc"]?.stringValue else { continue }
            let got = String(decoding: text._nfcCodeUnits, as: UTF8.self)
            if got.unicodeScalars.elementsEqual(want.unicodeScalars) { continue }
            differing.append(Self.hex(text))
            let new = text.unicodeScalars.contains { s in
                guard let age = s.properties.age else { return false }
                return (age.major, age.minor) > (9, 0)
            }
            #expect(new, "stdlib NFC differs on \(Self.hex(text)) without post-9.0 characters")
        }
        print("standard library NFC differs from the reference on \(differing.count) strings: \(differing)")
    }

    @Test func asciiAndEmptyAreUnchanged() {
        for (_, form) in Self.forms {
            #expect(UnicodeNormalization.normalize("", form) == "")
            #expect(UnicodeNormalization.normalize("Hello, world!\n", form) == "Hello, world!\n")
        }
    }
}
