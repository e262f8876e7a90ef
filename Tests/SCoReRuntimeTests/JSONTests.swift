import Testing
import SCoReRuntime

@Suite struct JSONTests {
    @Test func parsesValues() throws {
        let v = try JSON.parse(#"{"a": [1, -2, 3.5, 1e3, true, false, null], "b": "x\n\u00e9\ud83d\ude00", "big": 18446744073709551615, "i": 9007199254740993}"#, context: "t")
        #expect(v["a"]?.arrayValue?.count == 7)
        #expect(v["a"]?.arrayValue?[1] == .int(-2))
        #expect(v["a"]?.arrayValue?[3] == .double(1000))
        #expect(v["b"]?.stringValue == "x\né😀")
        #expect(v["i"]?.int64Value == 9007199254740993)  // exact beyond 2^53
        #expect(v["big"]?.int64Value == nil)             // does not fit: a double, not an Int64
        #expect(v.objectValue?.keys == ["a", "b", "big", "i"])
    }

    @Test(arguments: [
        "{\"a\": 1,}", "[1 2]", "\"unterminated", "{\"a\" 1}", "01x", "[1] [2]", "\"\\ud800\"", "tru", "",
        String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000),
    ])
    func rejectsMalformed(text: String) {
        #expect(throws: ScoreError.self) { try JSON.parse(text, context: "t") }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        #expect(throws: ScoreError.self) { try JSON.parse(bytes, context: "t") }
    }

    @Test func errorsCarryContextAndOffset() {
        do {
            _ = try JSON.parse("{\"a\": ?}", context: "config.json")
            Issue.record("no error")
        } catch let e as ScoreError {
            #expect(e.message.contains("config.json") && e.message.contains("byte 6"))
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    /// One-line output with Python's separators; NaN and infinities become
    /// null through JSON.number, and are refused when written directly.
    @Test func serializedLineAndNonFiniteNumbers() throws {
        let value = JSON.object([("a", .array([.int(1), JSON.number(Float.nan), JSON.number(-Double.infinity)])),
                                 ("b", JSON.number(Float(-4.4001555))), ("c", .object(JSONObject()))])
        #expect(try value.serializedLine() == "{\"a\": [1, null, null], \"b\": -4.4001555, \"c\": {}}")
        #expect(try value.serialized(indent: false) == "{\"a\":[1,null,null],\"b\":-4.4001555,\"c\":{}}")
        #expect(throws: ScoreError.self) { try JSON.double(.nan).serializedLine() }
    }
}
