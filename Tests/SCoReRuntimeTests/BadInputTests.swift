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

    /// A FIFO in place of a model file used to block `open` forever (no
    /// writer ever comes); now every reader refuses non-regular files.
    @Test(arguments: ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"])
    func fifoInsteadOfAFile(name: String) throws {
        let dir = TempDir()
        dir.copyModel("qwen2-chat")
        unlink(dir.file(name))
        #expect(mkfifo(dir.file(name), 0o644) == 0)
        let e = loadError(dir.path)
        #expect(e?.statusCode == 2 && e!.message.contains(name) && e!.message.contains("FIFO"), "\(String(describing: e))")
        #expect(throws: ScoreError.self) { try Files.readAll(dir.file(name)) }
        #expect(throws: ScoreError.self) { try MappedFile(path: "/dev/null") }
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

    /// The raw header text and data region of a fixture's model.safetensors.
    func headerAndData(_ dir: TempDir) -> (String, [UInt8]) {
        let bytes = dir.read("model.safetensors")
        var n = 0
        for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
        return (String(decoding: bytes[8..<(8 + n)], as: UTF8.self), Array(bytes[(8 + n)...]))
    }

    /// A header length one byte short shifts every tensor by a byte: with
    /// the header ending in '}' the JSON is cut, with padding spaces (as the
    /// reference writer adds) the data region is one byte longer than the
    /// tensors. Either way a load error, never shifted weights.
    @Test(arguments: ["", "   "])
    func headerLengthOneByteShort(padding: String) throws {
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        let (header, data) = headerAndData(dir)
        let padded = String(header.reversed().drop(while: { $0 == " " }).reversed()) + padding
        var bytes = safetensors(header: padded, data: data)
        var n = UInt64(padded.utf8.count - 1)  // one byte short
        for i in 0..<8 { bytes[i] = UInt8(n & 0xFF); n >>= 8 }
        dir.write("model.safetensors", bytes)
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("model.safetensors"), "\(String(describing: e))")
        #expect(e?.message.contains(padding.isEmpty ? "invalid JSON" : "1 bytes after the last tensor") == true, "\(String(describing: e))")
    }

    @Test func bytesAfterTheLastTensor() throws {
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        dir.write("model.safetensors", dir.read("model.safetensors") + [0, 0, 0, 0])
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("4 bytes after the last tensor"), "\(String(describing: e))")
    }

    @Test func gapBeforeTheFirstTensor() throws {
        // Every offset moved by 4 bytes over 4 unused bytes at the start.
        let dir = TempDir()
        dir.copyModel("llama-gqa")
        let (header, data) = headerAndData(dir)
        let file = try SafetensorsFile(path: dir.file("model.safetensors"), mapped: false)
        let dataStart = 8 + header.utf8.count
        var shifted = header
        for e in file.entries.values {
            let old = entryText(header, e.name)
            let (b, end) = (e.byteRange.lowerBound - dataStart, e.byteRange.upperBound - dataStart)
            shifted = shifted.replacing(old, with: old.replacing("[\(b),\(end)]", with: "[\(b + 4),\(end + 4)]"))
        }
        dir.write("model.safetensors", safetensors(header: shifted, data: [1, 2, 3, 4] + data))
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("gap of 4 bytes at the start"), "\(String(describing: e))")
    }

    @Test func duplicateTensorName() throws {
        // The same name twice; the reference refuses it, the last must not silently win.
        let dir = try modelWithHeader { header, _ in
            let norm = entryText(header, "model.norm.weight")
            return "{" + norm + "," + header.dropFirst()
        }
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("duplicate key 'model.norm.weight'"), "\(String(describing: e))")
    }

    @Test func headerMustStartWithABrace() throws {
        let dir = try modelWithHeader { header, _ in " " + header.dropLast() }
        let e = loadError(dir.path)
        #expect(e?.statusCode == 3 && e!.message.contains("does not start with '{'"), "\(String(describing: e))")
    }

    @Test func shardIndexThatDisagreesWithTheShards() throws {
        let index = "model.safetensors.index.json"
        let original = String(decoding: try Files.readAll(Fixtures.model("llama-sharded-f16") + "/" + index), as: UTF8.self)
        let line = "\"lm_head.weight\": \"model-00005-of-00005.safetensors\","
        #expect(original.contains(line))
        // A tensor listed twice.
        let twice = TempDir()
        twice.copyModel("llama-sharded-f16")
        twice.write(index, original.replacing(line, with: line + "\n" + line.replacing("00005-of", with: "00001-of")))
        let e1 = loadError(twice.path)
        #expect(e1?.statusCode == 3 && e1!.message.contains("duplicate key 'lm_head.weight'"), "\(String(describing: e1))")
        // A tensor a shard holds that the index does not list.
        let down = "\"model.layers.0.mlp.down_proj.weight\": \"model-00002-of-00005.safetensors\","
        #expect(original.contains(down))
        let unlisted = TempDir()
        unlisted.copyModel("llama-sharded-f16")
        unlisted.write(index, original.replacing(down, with: ""))
        let e2 = loadError(unlisted.path)
        #expect(e2?.statusCode == 3 && e2!.message.contains("holds tensor 'model.layers.0.mlp.down_proj.weight'") && e2!.message.contains("does not list it"),
                "\(String(describing: e2))")
    }

    /// Without mapping the weights live in private memory: the files can be
    /// truncated or removed under a loaded model (mapped, that is SIGBUS).
    @Test(arguments: ["qwen2", "qwen2-bf16", "llama-sharded-f16"])
    func unmappedModelSurvivesTruncatedFiles(name: String) throws {
        let dir = TempDir()
        dir.copyModel(name)
        let model = try Model.load(directory: dir.path, options: LoadOptions(useMapping: false))
        let tokens: [Int32] = [1, 5, 9, 20, 3, 7]
        let before = try model.logProbs(tokens: tokens)
        for file in try AtomicDirectory.listDirectory(dir.path) where file.hasSuffix(".safetensors") {
            #expect(truncate(dir.file(file), 0) == 0)
        }
        _ = system("rm -f '\(dir.path)'/*")
        #expect(try model.logProbs(tokens: tokens) == before)
        #expect(model.weights.mappedBytes == 0)
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
