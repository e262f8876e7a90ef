#if canImport(Glibc)
import Glibc
#endif

/// LoRA settings: W' = W + (alpha / rank)·B·A on every targeted projection.
public struct LoRAConfig: Sendable, Equatable {
    public var rank: Int
    public var alpha: Float
    public var targets: [LoRATarget]

    public init(rank: Int = 8, alpha: Float = 16, targets: [LoRATarget] = [.q, .v]) {
        self.rank = rank
        self.alpha = alpha
        self.targets = targets
    }

    /// Targets by peft's module names ("q_proj", "up_proj", ...); unknown names are an error.
    public static func targets(named names: [String]) throws -> [LoRATarget] {
        try names.map { name in
            guard let t = LoRATarget(rawValue: name) else {
                let known = LoRATarget.allCases.map(\.rawValue).joined(separator: ", ")
                throw ScoreError.invalidArgument("LoRA target '\(name)' does not exist in this model (targets: \(known))")
            }
            return t
        }
    }

    public var scale: Float { alpha / Float(rank) }

    func validate() throws {
        guard rank >= 1, rank <= 4096 else { throw ScoreError.invalidArgument("LoRA rank \(rank) must be in 1...4096") }
        guard alpha.isFinite, alpha > 0 else { throw ScoreError.invalidArgument("LoRA alpha \(alpha) must be finite and positive") }
        guard !targets.isEmpty else { throw ScoreError.invalidArgument("LoRA needs at least one target module") }
        guard Set(targets).count == targets.count else { throw ScoreError.invalidArgument("LoRA targets repeat a module") }
    }

    /// peft's tensor name of an adapter matrix in `adapter_model.safetensors`.
    public static func tensorName(layer: Int, target: LoRATarget, matrix: String) -> String {
        "base_model.model.model.layers.\(layer).\(target.modulePath).lora_\(matrix).weight"
    }

    /// The adapters' layout: lora_A [rank × in] then lora_B [out × rank] per layer and target.
    func layout(_ c: ModelConfig) -> ParameterLayout {
        var l = ParameterLayout()
        for i in 0..<c.layerCount {
            for t in LoRATarget.allCases where targets.contains(t) {
                let (rows, cols) = LoRAConfig.shape(t, c)
                l.append(LoRAConfig.tensorName(layer: i, target: t, matrix: "A"), [rank, cols])
                l.append(LoRAConfig.tensorName(layer: i, target: t, matrix: "B"), [rows, rank])
            }
        }
        return l
    }

    /// (out, in) of a projection.
    static func shape(_ t: LoRATarget, _ c: ModelConfig) -> (Int, Int) {
        let h = c.hiddenSize
        switch t {
        case .q: return (c.qDim, h)
        case .k, .v: return (c.kvDim, h)
        case .o: return (h, c.qDim)
        case .gate, .up: return (c.intermediateSize, h)
        case .down: return (h, c.intermediateSize)
        }
    }

    /// Adapter views per layer and target over the value and gradient buffers.
    func pairs(_ c: ModelConfig, layout: ParameterLayout, values: UnsafeMutablePointer<Float>,
               grads: UnsafeMutablePointer<Float>?) -> [[LoRAPair?]] {
        (0..<c.layerCount).map { i in
            LoRATarget.allCases.map { t -> LoRAPair? in
                guard targets.contains(t),
                      let a = layout.offset(LoRAConfig.tensorName(layer: i, target: t, matrix: "A")),
                      let b = layout.offset(LoRAConfig.tensorName(layer: i, target: t, matrix: "B")) else { return nil }
                return LoRAPair(a: values + a, b: values + b, gradA: grads.map { $0 + a }, gradB: grads.map { $0 + b },
                                rank: rank, scale: scale)
            }
        }
    }

    /// peft's default initialisation: A ~ U(−1/√in, 1/√in) (kaiming_uniform
    /// with a = √5), B = 0, so a fresh adapter leaves the model unchanged.
    func initialise(_ c: ModelConfig, layout: ParameterLayout, values: UnsafeMutablePointer<Float>, rng: inout TrainingRNG) {
        for slot in layout.slots where slot.name.hasSuffix("lora_A.weight") {
            let bound = 1 / Float(slot.shape[1]).squareRoot()
            for j in 0..<slot.count { values[slot.offset + j] = Float(2 * rng.nextUniform() - 1) * bound }
        }
    }
}

/// A counter-based generator whose whole state is (seed, counter), so a
/// checkpoint can store it and a resumed run continues the same sequence.
public struct TrainingRNG: Sendable, Equatable {
    public var seed: UInt64
    public var counter: UInt64

    public init(seed: UInt64, counter: UInt64 = 0) {
        self.seed = seed
        self.counter = counter
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double {
        counter &+= 1
        return Double(RandomStream.mix(RandomStream.mix(seed) &+ counter &* 0xD1B5_4A32_D192_ED03) >> 11) * 0x1p-53
    }
}
