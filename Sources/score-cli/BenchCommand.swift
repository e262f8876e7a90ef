#if canImport(Glibc)
import Glibc
#endif
import CKernels
import SCoReRuntime

/// Benchmarks measure; they never pass or fail. Each prints the figure and
/// the machine limit it should be read against.
enum BenchCommand {
    static let help = """
    usage: score-cli bench DIR [--tokens N] [--repeat R] [--threads T] [--json]

    Times a prefill of N tokens (default 512) through the model in DIR,
    best of R runs (default 5) after one warm-up, and reports tokens/s and
    achieved GFLOP/s (2 x matrix parameters x tokens + attention).
    """

    static let gemmHelp = """
    usage: score-cli bench-gemm [--size N] [--repeat R] [--threads T] [--json]

    Measures cblas_sgemm on N x N matrices (default 1024), and our own
    kernels (MatMul, the SCORE_KERNELS path) on the same product: the F32
    compute limits every other figure is compared with.
    """

    static let computeHelp = """
    usage: score-cli bench-compute DIR [--tokens N] [--threads T] [--json]

    The cost of BF16 compute: loads the model in DIR twice (--compute f32
    and bf16), runs N tokens (default 512; ids from a fixed seed) through
    both, and reports the largest |difference| of the log-probability of
    each next token, the mean and largest KL(f32 || bf16) of the next-token
    distributions, how often the two argmax tokens differ, and both times.
    """

    static func runCompute(_ args: Arguments) throws {
        guard args.positional.count == 1 else { throw UsageError("bench-compute takes exactly one model directory") }
        var exactOptions = modelLoadOptions, roundedOptions = modelLoadOptions
        exactOptions.compute = .f32
        roundedOptions.compute = .bf16
        let exact = try Model.load(directory: args.positional[0], options: exactOptions)
        let rounded = try Model.load(directory: args.positional[0], options: roundedOptions)
        let n = try args.int("tokens", default: 512, range: 2...exact.contextLength)
        var rng = SplitMix(seed: 42)
        let V = exact.config.vocabSize
        let tokens = (0..<n).map { _ in Int32(rng.next() % UInt64(V)) }
        func timed(_ model: Model) throws -> ([Float], Double) {
            _ = try model.allLogits(tokens: Array(tokens.prefix(8)))
            let t0 = now()
            let logits = try model.allLogits(tokens: tokens)
            return (logits, now() - t0)
        }
        let (a, exactSeconds) = try timed(exact)
        let (b, roundedSeconds) = try timed(rounded)
        var worstLogProb = 0.0, klSum = 0.0, klMax = 0.0, argmaxDiffer = 0
        for t in 0..<(n - 1) {
            let rowA = a[(t * V)..<((t + 1) * V)], rowB = b[(t * V)..<((t + 1) * V)]
            func logSoftmax(_ row: ArraySlice<Float>) -> [Double] {
                let top = Double(row.max()!)
                let sum = row.reduce(0.0) { $0 + exp(Double($1) - top) }
                return row.map { Double($0) - top - log(sum) }
            }
            let la = logSoftmax(rowA), lb = logSoftmax(rowB)
            let next = Int(tokens[t + 1])
            worstLogProb = max(worstLogProb, abs(la[next] - lb[next]))
            var kl = 0.0
            for j in 0..<V { kl += exp(la[j]) * (la[j] - lb[j]) }
            klSum += kl
            klMax = max(klMax, kl)
            if la.indices.max(by: { la[$0] < la[$1] }) != lb.indices.max(by: { lb[$0] < lb[$1] }) { argmaxDiffer += 1 }
        }
        let positions = Double(n - 1)
        if args.flags.contains("json") {
            try printJSON([("bench", .string("compute")), ("tokens", jsonInt(n)), ("max_abs_logprob_diff", JSON.number(worstLogProb)),
                           ("mean_kl", JSON.number(klSum / positions)), ("max_kl", JSON.number(klMax)),
                           ("argmax_differs", jsonInt(argmaxDiffer)), ("f32_seconds", JSON.number(exactSeconds)),
                           ("bf16_seconds", JSON.number(roundedSeconds)), ("kernels", .string(KernelPath.active.name)),
                           ("threads", jsonInt(BLAS.threadCount))])
        } else {
            print("bf16 vs f32 compute over \(n) tokens: max |Δ log-prob| \(sci(worstLogProb)), mean KL \(sci(klSum / positions)), max KL \(sci(klMax)), argmax differs at \(argmaxDiffer) of \(n - 1) positions; \(fmt(exactSeconds * 1000)) ms vs \(fmt(roundedSeconds * 1000)) ms (\(KernelPath.active.name), \(BLAS.threadCount) threads)")
        }
    }

    static let memoryHelp = """
    usage: score-cli bench-memory [--mb M] [--repeat R] [--threads T] [--json]

    Measures read bandwidth: T threads sum a buffer of M MB (default 1024),
    best of R passes (default 5). Decoding reads every weight once per step,
    so bytes per step / this figure is its time limit.
    """

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    static func run(_ args: Arguments) throws {
        guard args.positional.count == 1 else { throw UsageError("bench takes exactly one model directory") }
        let n = try args.int("tokens", default: 512, range: 1...1 << 20)
        let repeats = try args.int("repeat", default: 5, range: 1...1000)
        let model = try Model.load(directory: args.positional[0], options: modelLoadOptions)
        let c = model.config
        guard n <= model.contextLength else { throw UsageError("--tokens \(n) exceeds the context length \(model.contextLength)") }
        var rng = SplitMix(seed: 42)
        let tokens = (0..<n).map { _ in Int32(rng.next() % UInt64(c.vocabSize)) }
        // The warm-up run pages in the weights.
        let best = try bestTime(repeats) { _ = try model.lastLogits(tokens: tokens) }
        let matrixParams = Double(c.layerCount) * Double(c.hiddenSize * (c.qDim + 2 * c.kvDim) + c.qDim * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize)
        let attention = Double(c.layerCount) * 2 * 2 * Double(c.qDim) * Double(n) * Double(n) / 2
        let flops = 2 * matrixParams * Double(n) + attention + 2 * Double(c.hiddenSize * c.vocabSize)
        let gflops = flops / best / 1e9
        if args.flags.contains("json") {
            try printJSON([("bench", .string("prefill")), ("tokens", jsonInt(n)), ("seconds", JSON.number(best)),
                           ("tokens_per_second", JSON.number(Double(n) / best)), ("gflops", JSON.number(gflops)),
                           ("threads", jsonInt(BLAS.threadCount))])
        } else {
            print("prefill \(n) tokens: \(fmt(best * 1000)) ms  \(fmt(Double(n) / best)) tokens/s  \(fmt(gflops)) GFLOP/s  (\(BLAS.threadCount) threads)")
        }
    }

    static let decodeHelp = """
    usage: score-cli bench-decode DIR [--prompt N] [--new N] [--batch B] [--repeat R] [--threads T] [--json]

    Times greedy decoding of --new tokens (default 128) after a prompt of
    --prompt random tokens (default 32) for B sequences at once (default 1),
    best of R runs. Reports decode tokens/s (all sequences together, prefill
    excluded) and the bytes of weights read per step.
    """

    static func runDecode(_ args: Arguments) throws {
        guard args.positional.count == 1 else { throw UsageError("bench-decode takes exactly one model directory") }
        let promptLength = try args.int("prompt", default: 32, range: 1...1 << 20)
        let newTokens = try args.int("new", default: 128, range: 1...1 << 20)
        let batch = try args.int("batch", default: 1, range: 1...4096)
        let repeats = try args.int("repeat", default: 3, range: 1...1000)
        let model = try Model.load(directory: args.positional[0], options: modelLoadOptions)
        let c = model.config
        var rng = SplitMix(seed: 7)
        let prompts = (0..<batch).map { _ in (0..<promptLength).map { _ in Int32(rng.next() % UInt64(c.vocabSize)) } }
        // No stop ids: every sequence runs the full length.
        let params = GenerationParams(maxNewTokens: newTokens, sampling: .greedy, stopTokenIds: [])
        var best = Double.infinity
        var prefillBest = Double.infinity
        for _ in 0..<(repeats + 1) {
            let t0 = now()
            var firstTokenAt = 0.0
            _ = try Generator(model: model).generate(prompts: prompts, params: params) { i, _ in
                if firstTokenAt == 0 { firstTokenAt = now() }
                return true
            }
            let t1 = now()
            best = min(best, t1 - firstTokenAt)
            prefillBest = min(prefillBest, firstTokenAt - t0)
        }
        // The first token comes from the prefill; newTokens - 1 decode steps follow.
        let steps = Double(newTokens - 1)
        let tokensPerSecond = steps * Double(batch) / best
        let weightBytes = Double(model.weights.ownedBytes + model.weights.mappedBytes)
        if args.flags.contains("json") {
            try printJSON([("bench", .string("decode")), ("batch", jsonInt(batch)), ("prompt", jsonInt(promptLength)),
                           ("new", jsonInt(newTokens)), ("seconds", JSON.number(best)),
                           ("tokens_per_second", JSON.number(tokensPerSecond)), ("prefill_seconds", JSON.number(prefillBest)),
                           ("weight_bytes", JSON.number(weightBytes)), ("threads", jsonInt(BLAS.threadCount))])
        } else {
            print("decode batch \(batch): \(fmt(tokensPerSecond)) tokens/s (\(fmt(best / steps * 1000)) ms/step), prefill \(fmt(prefillBest * 1000)) ms, \(fmt(weightBytes / 1e6)) MB of weights per step  (\(BLAS.threadCount) threads)")
        }
    }

    static func runGemm(_ args: Arguments) throws {
        let n = try args.int("size", default: 1024, range: 16...8192)
        let repeats = try args.int("repeat", default: 10, range: 1...1000)
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        for i in 0..<(n * n) { a.pointer[i] = Float(i % 7) * 0.1; b.pointer[i] = Float(i % 5) * 0.1 }
        let best = bestTime(repeats) { BLAS.matmul(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n) }
        let oursBest = bestTime(repeats) { MatMul.matmul(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n) }
        let flops = 2 * Double(n) * Double(n) * Double(n)
        if args.flags.contains("json") {
            try printJSON([("bench", .string("sgemm")), ("size", jsonInt(n)), ("seconds", JSON.number(best)),
                           ("gflops", JSON.number(flops / best / 1e9)), ("openblas_core", .string(OpenBLASCore.activeName)),
                           ("ours_seconds", JSON.number(oursBest)), ("ours_gflops", JSON.number(flops / oursBest / 1e9)),
                           ("kernels", .string(KernelPath.active.name)), ("threads", jsonInt(BLAS.threadCount))])
        } else {
            for (name, kernels, seconds) in [("sgemm", "OpenBLAS " + OpenBLASCore.activeName, best), ("ours", KernelPath.active.name, oursBest)] {
                print("\(name) (\(kernels)) \(n)x\(n)x\(n): \(fmt(seconds * 1000)) ms  \(fmt(flops / seconds / 1e9)) GFLOP/s  (\(BLAS.threadCount) threads)")
            }
        }
    }

    static func runMemory(_ args: Arguments) throws {
        let megabytes = try args.int("mb", default: 1024, range: 16...65536)
        let repeats = try args.int("repeat", default: 5, range: 1...1000)
        let count = megabytes << 18  // floats
        let buffer = FloatBuffer(count: count)
        let pool = ThreadPool.shared
        let parts = pool.threads
        let per = (count / parts) / 64 * 64
        let sums = FloatBuffer(count: parts)
        let best = bestTime(repeats) {
            pool.run(parts: parts) { part in
                // The sum is stored so the reads cannot be optimised away.
                sums.pointer[part] = scorek_read_sum(buffer.pointer + part * per, per)
            }
        }
        let bytes = Double(per * parts * 4)
        if args.flags.contains("json") {
            try printJSON([("bench", .string("memory")), ("bytes", JSON.number(bytes)), ("seconds", JSON.number(best)),
                           ("gbps", JSON.number(bytes / best / 1e9)), ("threads", jsonInt(parts))])
        } else {
            print("memory read \(megabytes) MB: \(fmt(best * 1000)) ms  \(fmt(bytes / best / 1e9)) GB/s  (\(parts) threads)")
        }
    }

    static let verifyHelp = """
    usage: score-cli bench-verify [--data FILE] [--repeat R] [--json]

    Times the math verifier over (prediction, gold) pairs, one thread: a
    JSONL file with "prediction" and "gold" fields (default: the
    math-verify fixture, Tests/Fixtures/verify/math_verify_pairs.jsonl).
    Best of R passes (default 5); reports pairs/s and agreement with the
    file's "label" field where it has one.
    """

    static func runVerify(_ args: Arguments) throws {
        let path = args.options["data"] ?? "Tests/Fixtures/verify/math_verify_pairs.jsonl"
        let repeats = try args.int("repeat", default: 5, range: 1...1000)
        let text = String(decoding: try Files.readAll(path), as: UTF8.self)
        var pairs: [(prediction: String, gold: String, label: Bool?)] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let json = try JSON.parse(String(line), context: "\(path) line \(n + 1)")
            guard let p = json["prediction"]?.stringValue, let g = json["gold"]?.stringValue else {
                throw UsageError("\(path) line \(n + 1): needs \"prediction\" and \"gold\" strings")
            }
            pairs.append((p, g, json["label"]?.boolValue))
        }
        guard !pairs.isEmpty else { throw UsageError("\(path) has no pairs") }
        let verifier = Verifier(kind: .math)
        var best = Double.infinity
        var agree = 0, labelled = 0
        for _ in 0..<repeats {
            agree = 0
            labelled = 0
            let t0 = now()
            for pair in pairs {
                let equal = verifier.reward(attempt: pair.prediction, reference: pair.gold) == 1
                if let label = pair.label { labelled += 1; if label == equal { agree += 1 } }
            }
            best = min(best, now() - t0)
        }
        let rate = Double(pairs.count) / best
        if args.flags.contains("json") {
            print("{\"bench\": \"verify\", \"pairs\": \(pairs.count), \"seconds\": \(best), \"pairs_per_second\": \(rate), \"agree\": \(agree), \"labelled\": \(labelled)}")
        } else {
            print("math verifier: \(pairs.count) pairs in \(fmt(best * 1000)) ms, \(fmt(rate)) pairs/s (1 thread); agrees with the labels on \(agree)/\(labelled)")
        }
    }

    static let matmulHelp = """
    usage: score-cli bench-matmul [--rows M] [--n N] [--k K] [--dtype f32|bf16] [--repeat R] [--threads T] [--json]

    Times one product out[M x N] = x[M x K] * W[N x K]^T (default
    16 x 1536 x 576, a decoding step of SmolLM2's MLP) on our kernels with W
    packed once ("packed"; --dtype bf16 also "packed-bf16-compute"), on our
    kernels packing W on the fly ("unpacked", F32), and on OpenBLAS sgemm
    (F32); best of R (default 50). SCORE_KERNELS picks our kernel path.
    """

    static func runMatmul(_ args: Arguments) throws {
        let m = try args.int("rows", default: 16, range: 1...1 << 16)
        let n = try args.int("n", default: 1536, range: 1...1 << 20)
        let k = try args.int("k", default: 576, range: 1...1 << 16)
        let repeats = try args.int("repeat", default: 50, range: 1...100_000)
        let dtype = args.options["dtype"] ?? "f32"
        guard dtype == "f32" || dtype == "bf16" else { throw UsageError("--dtype must be f32 or bf16") }
        var rng = SplitMix(seed: 5)
        func value() -> Float { Float(Int(rng.next() % 2001) - 1000) / 1000 }
        let x = FloatBuffer(count: m * k), out = FloatBuffer(count: m * n)
        for i in 0..<(m * k) { x.pointer[i] = value() }
        let w = FloatBuffer(count: n * k)
        for i in 0..<(n * k) { w.pointer[i] = value() }
        let halves = BF16Buffer(count: n * k)
        for i in 0..<(n * k) { halves.pointer[i] = BF16(bits: UInt16(w.pointer[i].bitPattern >> 16)) }
        func time(_ body: () -> Void) -> Double { bestTime(repeats, body) }
        let rowMajor = dtype == "f32" ? WeightMatrix(f32: UnsafePointer(w.pointer), rows: n, cols: k)
                                      : WeightMatrix(.bf16(UnsafePointer(halves.pointer)), rows: n, cols: k)
        var results: [(String, Double)] = []
        let packed = rowMajor.packed(compute: .f32)
        results.append(("packed", time { packed.matrix.multiply(x.pointer, rows: m, ldx: k, into: out.pointer, ldo: n, accumulate: false) }))
        if dtype == "bf16" {
            let bf16 = rowMajor.packed(compute: .bf16)
            results.append(("packed-bf16-compute", time { bf16.matrix.multiply(x.pointer, rows: m, ldx: k, into: out.pointer, ldo: n, accumulate: false) }))
        }
        if dtype == "f32" {
            results.append(("unpacked", time { rowMajor.multiply(x.pointer, rows: m, ldx: k, into: out.pointer, ldo: n, accumulate: false) }))
            results.append(("sgemm", time { BLAS.matmulTransposedB(m: m, n: n, k: k, a: x.pointer, lda: k, b: w.pointer, ldb: k, c: out.pointer, ldc: n, beta: 0) }))
        }
        let flops = 2 * Double(m) * Double(n) * Double(k)
        let bytes = Double(n * k * (dtype == "bf16" ? 2 : 4))
        for (name, seconds) in results {
            if args.flags.contains("json") {
                try printJSON([("bench", .string("matmul")), ("kernel", .string(name)), ("dtype", .string(dtype)),
                               ("m", jsonInt(m)), ("n", jsonInt(n)), ("k", jsonInt(k)), ("seconds", JSON.number(seconds)),
                               ("gflops", JSON.number(flops / seconds / 1e9)), ("weight_gbps", JSON.number(bytes / seconds / 1e9)),
                               ("kernels", .string(KernelPath.active.name)), ("threads", jsonInt(BLAS.threadCount))])
            } else {
                print("\(name) (\(name == "sgemm" ? "OpenBLAS " + OpenBLASCore.activeName : KernelPath.active.name)) \(dtype) \(m)x\(n)x\(k): \(fmt(seconds * 1e6)) us  \(fmt(flops / seconds / 1e9)) GFLOP/s  \(fmt(bytes / seconds / 1e9)) GB/s of weights  (\(BLAS.threadCount) threads)")
            }
        }
    }

    /// Seconds of the fastest of `repeats` runs of body, after one untimed warm-up run.
    static func bestTime(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = now()
            try body()
            best = min(best, now() - t0)
        }
        return best
    }

    /// Three significant digits in scientific notation ("1.23e-4").
    static func sci(_ v: Double) -> String {
        guard v != 0, v.isFinite else { return "\(v)" }
        let e = Int((log10(abs(v))).rounded(.down))
        let m = (v / pow(10, Double(e)) * 100).rounded() / 100
        return "\(m)e\(e)"
    }

    static func fmt(_ v: Double) -> String {
        String((v * 10).rounded() / 10)
    }
}

/// SplitMix64: a tiny deterministic generator for benchmark inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
