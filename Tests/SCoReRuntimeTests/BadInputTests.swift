#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime

/// Every malformed input is an error that names the problem (and the file
/// and tensor, where there is one) — never a crash or a silent answer.
@Suite struct BadInputTests {
    /// Loads `dir` expecting failure; returns the error.
    func loadError(_ dir: String) -> ScoreError? {
        do {
            _ = try Model.load(directory: dir)
            return nil
        } catch let e as ScoreError {
            return e
        } catch {
            return .internal("\(error)")
        }
    }

    /// A copy of a fixture whose model.safetensors header is rewritten.
    func modelWithHeader(_ transform: (String, SafetensorsFile) -> String) throws -> TempDir {
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        let original = try SafetensorsFile(path: dir.file("model.safetensors"), mapped: false)
        let bytes = dir.read("model.safetensors")
        var n = 0
        for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        let data = Array(bytes[(8 + n)...])
        dir.write("model.safetensors", safetensors(header: transform(header, original), data: data))
        return dir
    }

    /// `"name":{...}` text of one tensor in a header.
    func entryText(_ header: String, _ name: String) -> String {
        let start = header.firstRange(of: "\"\(name)\":{")!.lowerBound
        let end = header[start...].firstIndex(of: "}")!
        return String(header[start...end])
    }

    @Test func missingDirectory() {
        let e = loadError("/nonexistent/model")
        #expect(e?.statusCode == 2 && e!.message.contains("no such directory"))
    }

    @Test func directoryWithoutConfig() {
        let dir = TempDir()
        let e = loadError(dir.path)
        #expect(e?.statusCode == 2 && e!.message.contains("no config.json"))
    }

    @Test func configThatIsNotJSON() {
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        dir.write("config.json", "{\"architectures\": [\"LlamaForCausalLM\"], oops")
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("config.json") && e!.message.contains("invalid JSON"))
    }

    @Test(arguments: [
        ("\"LlamaForCausalLM\"", "\"GPT2LMHeadModel\"", "GPT2LMHeadModel"),
        ("\"rope_type\": \"default\"", "\"rope_type\": \"yarn\"", "yarn"),
        ("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "gelu"),
    ])
    func unsupportedSettingsAreNamed(find: String, replace: String, named: String) throws {
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        let text = String(decoding: dir.read("config.json"), as: UTF8.self)
        #expect(text.contains(find))
        dir.write("config.json", text.replacing(find, with: replace))
        let e = loadError(dir.path)
        #expect(e?.statusCode == 4, "\(String(describing: e))")
        #expect(e?.message.contains(named) == true)
    }

    @Test func configWithImpossibleShapes() {
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        let text = String(decoding: dir.read("config.json"), as: UTF8.self)
        dir.write("config.json", text.replacing("\"num_key_value_heads\": 2", with: "\"num_key_value_heads\": 3"))
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("num_key_value_heads"))
    }

    @Test func truncatedData() throws {
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        let bytes = dir.read("model.safetensors")
        dir.write("model.safetensors", Array(bytes.prefix(bytes.count - 1000)))
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("model.safetensors") && e!.message.contains("run past the end"))
    }

    @Test func tinyFile() {
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        dir.write("model.safetensors", [1, 2, 3])
        #expect(loadError(dir.path)?.message.contains("truncated") == true)
    }

    @Test func headerLongerThanFile() {
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        var bytes = dir.read("model.safetensors")
        bytes.replaceSubrange(0..<8, with: [0, 0, 0, 1, 0, 0, 0, 0])  // 16 MiB
        dir.write("model.safetensors", bytes)
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("runs past the end of the file"))
    }

    @Test func absurdHeaderLength() {
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        var bytes = dir.read("model.safetensors")
        bytes.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 1, 0, 0])  // 2^40
        dir.write("model.safetensors", bytes)
        #expect(loadError(dir.path)?.message.contains("header claims") == true)
    }

    @Test func overlappingOffsets() throws {
        let dir = try modelWithHeader { header, file in
            // Point model.norm.weight (256 bytes) at the start of another tensor's data.
            let norm = file.entries["model.norm.weight"]!
            let other = file.entries.values.first { $0.name != norm.name && $0.byteRange.count >= 256 }!
            let dataStart = norm.byteRange.lowerBound - (norm.byteRange.lowerBound - 8 - (header.utf8.count))
            let begin = other.byteRange.lowerBound - dataStart
            let old = entryText(header, "model.norm.weight")
            let new = "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[64],\"data_offsets\":[\(begin),\(begin + 256)]}"
            return header.replacing(old, with: new)
        }
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("overlap") && e!.message.contains("model.norm.weight"), "\(String(describing: e))")
    }

    @Test func wrongShapeForKnownTensor() throws {
        let dir = try modelWithHeader { header, _ in
            let old = entryText(header, "lm_head.weight")
            return header.replacing(old, with: old.replacing("[128,64]", with: "[64,128]"))
        }
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("lm_head.weight") && e!.message.contains("shape [64, 128]"), "\(String(describing: e))")
    }

    @Test func byteCountDisagreesWithShape() throws {
        let dir = try modelWithHeader { header, _ in
            let old = entryText(header, "lm_head.weight")
            return header.replacing(old, with: old.replacing("[128,64]", with: "[128,65]"))
        }
        let e = loadError(dir.path)
        #expect(e?.message.contains("lm_head.weight") == true && e?.message.contains("needs") == true)
    }

    @Test func unknownAndUnsupportedDTypes() throws {
        let unknown = try modelWithHeader { header, _ in
            let old = entryText(header, "model.norm.weight")
            return header.replacing(old, with: old.replacing("\"F32\"", with: "\"F33\""))
        }
        let e1 = loadError(unknown.path)
        #expect(e1?.statusCode == 3 && e1!.message.contains("unknown dtype 'F33'") && e1!.message.contains("model.norm.weight"))
        let integer = try modelWithHeader { header, _ in
            let old = entryText(header, "model.norm.weight")
            return header.replacing(old, with: old.replacing("\"F32\"", with: "\"I32\""))
        }
        let e2 = loadError(integer.path)
        #expect(e2?.statusCode == 4 && e2!.message.contains("model.norm.weight") && e2!.message.contains("I32"))
    }

    @Test func absurdShape() throws {
        let dir = try modelWithHeader { header, _ in
            let old = entryText(header, "model.norm.weight")
            return header.replacing(old, with: old.replacing("[64]", with: "[2000000000,2000000000,2000000000]"))
        }
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("model.norm.weight"))
    }

    @Test func missingTensor() throws {
        let dir = try modelWithHeader { header, _ in
            header.replacing("\"model.norm.weight\"", with: "\"model.norm.weight_renamed\"")
        }
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("missing tensor 'model.norm.weight'"))
    }

    @Test func tensorTheConfigDoesNotExplain() throws {
        // Biases present although config.json says attention_bias = false.
        let dir = try modelWithHeader { header, _ in
            header.replacing("\"model.norm.weight\"", with: "\"model.layers.0.self_attn.q_proj.bias_extra\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},\"model.norm.weight\"")
        }
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("unexpected tensor"))
    }

    @Test func shardIndexNamingMissingShard() {
        let dir = TempDir()
        dir.copyModel("llama-sharded-f16")
        _ = dir.read("model-00002-of-00005.safetensors")
        _ = system("rm '\(dir.file("model-00002-of-00005.safetensors"))'")
        let e = loadError(dir.path)
        #expect(e?.statusCode == 2 && e!.message.contains("model-00002-of-00005.safetensors"))
    }

    @Test func tokensOutsideVocabularyOrContext() throws {
        let model = try Model.load(directory: Fixtures.model("qwen2"))
        for bad: [Int32] in [[1, 128], [-1, 5], []] {
            #expect(throws: ScoreError.self) { try model.logProbs(tokens: bad) }
        }
        do {
            _ = try model.logProbs(tokens: [3, 200])
        } catch let e as ScoreError {
            #expect(e.statusCode == 1 && e.message.contains("200") && e.message.contains("vocabulary"))
        }
        let long = [Int32](repeating: 5, count: 513)
        #expect(throws: ScoreError.self) { try model.lastLogits(tokens: long) }
        let limited = try Model.load(directory: Fixtures.model("qwen2"), options: LoadOptions(maxContext: 16))
        #expect(throws: ScoreError.self) { try limited.logProbs(tokens: [Int32](repeating: 5, count: 17)) }
        #expect(try limited.logProbs(tokens: [Int32](repeating: 5, count: 16)).count == 15)
        #expect(throws: ScoreError.self) { try Model.load(directory: Fixtures.model("qwen2"), options: LoadOptions(maxContext: 513)) }
    }
}
