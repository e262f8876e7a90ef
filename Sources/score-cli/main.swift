#if canImport(Glibc)
import Glibc
#endif
import SCoReRuntime

// score-cli: inspect, score and benchmark models from the shell.
// Errors are one line on stderr and a non-zero exit (1: failure, 2: usage).

let usage = """
usage: score-cli <command> [options]

commands:
  info DIR | --system          describe a model directory, or this machine's CPU and kernels
  logprobs DIR --ids 1,2,3     per-token log-probabilities (teacher forcing; or --text "...")
  tokenize DIR "text"          token ids of a text (DIR/tokenizer.json)
  generate DIR "prompt"        continue a prompt, streaming text (or --ids 1,2,3)
  correct DIR --in F --out G   generate, then revise, for every problem in a JSONL file
  bench DIR [--tokens N]       time a prefill of N tokens (default 512)
  bench-decode DIR [--batch B] decode tokens/s after a prompt, B sequences at once
  bench-memory                 read bandwidth (the decoding limit)
  bench-compute DIR            what BF16 compute costs in accuracy (log-probs, KL) and gains in time
  bench-gemm [--size N]        OpenBLAS sgemm throughput (this machine's limit)
  bench-matmul [--rows M]      one decoding-step product with each kernel
  bench-verify [--data F]      math verifier pairs/s (default: the math-verify fixture)
  chat-template DIR --messages FILE  render a conversation with the model's chat template
  sft DIR --data F --out OUT   supervised fine-tuning (JSONL or the seed's CSV), checkpoint to OUT
  train DIR --stage S --data F --out OUT  SCoRe training; S = 1, 2 or both (rounds of I then II)
  eval DIR --data F            self-correction metrics: Acc@t1, Acc@t2, Δ, Δi→c, Δc→i (greedy)
  demo                         the main job: build a model, SFT, SCoRe, ablation, metrics
  version                      print the library version

Run `score-cli <command> --help` for a command's options. Every command that
loads a model also takes --no-mmap (see below) and --threads N.

--no-mmap reads the weight files into memory instead of mapping them. With
mapping (the default), a weight file truncated or rewritten on disk while a
command runs kills it with SIGBUS; with --no-mmap the files can change
underneath (at the cost of a private copy of the weights).
"""

/// Commands that load a model, and so take --no-mmap.
let modelCommands: Set<String> = ["info", "logprobs", "generate", "correct", "bench", "bench-decode", "bench-compute", "sft", "train", "eval"]
let noMmapHelp = """
  --no-mmap               read the weight files into memory instead of mapping them:
                          a mapped file truncated on disk while in use kills the
                          process with SIGBUS; an unmapped one cannot
  --compute f32|bf16      inference arithmetic (default f32): bf16 multiplies BF16
                          weights by BF16-rounded activations, summing in F32
                          (vdpbf16ps where the CPU has it): faster, not bit-equal
                          to f32 (README, "BF16 compute"); not for training
"""
/// Load options of every model a command loads (set by --no-mmap, --compute).
nonisolated(unsafe) var modelLoadOptions = LoadOptions()

struct Command {
    let name: String
    let help: String
    let valueOptions: Set<String>
    let flagOptions: Set<String>
    let run: (Arguments) throws -> Void
}

let commands: [Command] = [
    Command(name: "info", help: InfoCommand.help, valueOptions: [], flagOptions: ["help", "json", "system"], run: InfoCommand.run),
    Command(name: "logprobs", help: LogprobsCommand.help, valueOptions: ["ids", "text", "threads"], flagOptions: ["help", "json"], run: LogprobsCommand.run),
    Command(name: "generate", help: GenerateCommand.help, valueOptions: GenerateCommand.valueOptions, flagOptions: ["help", "json", "chat", "parse-special"], run: GenerateCommand.run),
    Command(name: "correct", help: CorrectCommand.help, valueOptions: CorrectCommand.valueOptions, flagOptions: ["help"], run: CorrectCommand.run),
    Command(name: "bench", help: BenchCommand.help, valueOptions: ["tokens", "repeat", "threads"], flagOptions: ["help", "json"], run: BenchCommand.run),
    Command(name: "bench-decode", help: BenchCommand.decodeHelp, valueOptions: ["prompt", "new", "batch", "repeat", "threads"], flagOptions: ["help", "json"], run: BenchCommand.runDecode),
    Command(name: "bench-matmul", help: BenchCommand.matmulHelp, valueOptions: ["rows", "n", "k", "dtype", "repeat", "threads"], flagOptions: ["help", "json"], run: BenchCommand.runMatmul),
    Command(name: "bench-verify", help: BenchCommand.verifyHelp, valueOptions: ["data", "repeat"], flagOptions: ["help", "json"], run: BenchCommand.runVerify),
    Command(name: "bench-gemm", help: BenchCommand.gemmHelp, valueOptions: ["size", "repeat", "threads"], flagOptions: ["help", "json"], run: BenchCommand.runGemm),
    Command(name: "bench-compute", help: BenchCommand.computeHelp, valueOptions: ["tokens", "threads"], flagOptions: ["help", "json"], run: BenchCommand.runCompute),
    Command(name: "bench-memory", help: BenchCommand.memoryHelp, valueOptions: ["mb", "repeat", "threads"], flagOptions: ["help", "json"], run: BenchCommand.runMemory),
    Command(name: "tokenize", help: TokenizeCommand.help, valueOptions: TokenizeCommand.valueOptions, flagOptions: TokenizeCommand.flagOptions, run: TokenizeCommand.run),
    Command(name: "chat-template", help: ChatTemplateCommand.help, valueOptions: ChatTemplateCommand.valueOptions, flagOptions: ChatTemplateCommand.flagOptions, run: ChatTemplateCommand.run),
    Command(name: "sft", help: SFTCommand.help, valueOptions: SFTCommand.valueOptions, flagOptions: SFTCommand.flagOptions, run: SFTCommand.run),
    Command(name: "train", help: TrainCommand.help, valueOptions: TrainCommand.valueOptions, flagOptions: TrainCommand.flagOptions, run: TrainCommand.run),
    Command(name: "eval", help: EvalCommand.help, valueOptions: EvalCommand.valueOptions, flagOptions: EvalCommand.flagOptions, run: EvalCommand.run),
    Command(name: "demo", help: DemoCommand.help, valueOptions: DemoCommand.valueOptions, flagOptions: DemoCommand.flagOptions, run: DemoCommand.run),
    Command(name: "version", help: "usage: score-cli version", valueOptions: [], flagOptions: ["help"], run: { _ in print(LibraryVersion.string) }),
]

func printError(_ message: String) {
    let line = "score-cli: error: " + message.split(separator: "\n").joined(separator: " ") + "\n"
    writeAll(2, line)
}

/// The command line as raw bytes: CommandLine.arguments would replace invalid
/// UTF-8 with U+FFFD and go on with a different text (or path) than the user
/// gave; the library itself rejects such text. Nil (after one error line)
/// when an argument is not valid UTF-8.
func rawArguments() -> [String]? {
    var args: [String] = []
    for i in 0..<Int(CommandLine.argc) {
        guard let p = CommandLine.unsafeArgv[i] else { break }
        if i == 0 {  // the program's own path: only shown, never used
            args.append(String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self))
            continue
        }
        guard let s = String(validatingCString: p) else {
            let bytes = UnsafeRawBufferPointer(start: p, count: strlen(p))
            let shown = String(decoding: bytes.prefix(40), as: UTF8.self)
            printError("command-line argument \(i) is not valid UTF-8 (\(bytes.count) bytes: \"\(shown)\"); text and paths must be UTF-8")
            return nil
        }
        args.append(s)
    }
    return args
}

@MainActor func main() -> Int32 {
    guard let args = rawArguments() else { return 2 }
    guard args.count > 1 else {
        print(usage)
        return 2
    }
    let name = args[1]
    if name == "--help" || name == "-h" || name == "help" {
        print(usage)
        return 0
    }
    if name == "--version" {
        print(LibraryVersion.string)
        return 0
    }
    guard let command = commands.first(where: { $0.name == name }) else {
        printError("unknown command '\(name)' (see score-cli --help)")
        return 2
    }
    do {
        let loadsModel = modelCommands.contains(name)
        let parsed = try Arguments(args.dropFirst(2), valueOptions: loadsModel ? command.valueOptions.union(["compute"]) : command.valueOptions,
                                   flagOptions: loadsModel ? command.flagOptions.union(["no-mmap"]) : command.flagOptions)
        if parsed.flags.contains("help") {
            print(loadsModel ? command.help + "\n\n" + noMmapHelp : command.help)
            return 0
        }
        if parsed.flags.contains("no-mmap") { modelLoadOptions.useMapping = false }
        if let compute = parsed.options["compute"] {
            guard let mode = ComputeMode(rawValue: compute) else { throw UsageError("--compute must be f32 or bf16, got '\(compute)'") }
            modelLoadOptions.compute = mode
        }
        // Training reads row-major F32: packing a model only to train it would hold a second copy.
        if name == "sft" || name == "train" { modelLoadOptions.pack = false }
        if let t = parsed.options["threads"] {
            guard let n = Int(t), n >= 0, n <= ThreadPool.maxThreads else {
                throw UsageError("--threads must be an integer in 0...\(ThreadPool.maxThreads) (0 = all cores), got '\(t)'")
            }
            try ThreadPool.configure(threads: n == 0 ? BLAS.coreCount : n)
        }
        try command.run(parsed)
        return 0
    } catch let e as UsageError {
        printError("\(e.description) (see score-cli \(name) --help)")
        return 2
    } catch let e as ScoreError {
        printError(e.message)
        return 1
    } catch {
        printError("\(error)")
        return 1
    }
}

exit(main())
