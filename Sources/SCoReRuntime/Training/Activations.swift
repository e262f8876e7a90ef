/// Sequences packed row after row: sequence b is rows starts[b] ..< starts[b] + lengths[b],
/// each starting at position 0.
public struct PackedSequences: Sendable {
    public let tokens: [Int32]
    public let starts: [Int]
    public let lengths: [Int]
    public var rows: Int { tokens.count }

    public init(_ sequences: [[Int32]]) {
        var tokens: [Int32] = [], starts: [Int] = [], lengths: [Int] = []
        for s in sequences {
            starts.append(tokens.count)
            lengths.append(s.count)
            tokens += s
        }
        self.tokens = tokens
        self.starts = starts
        self.lengths = lengths
    }
}

/// What the backward of one decoder layer reads, saved by its forward.
/// Normed inputs and the SwiGLU product are not kept: they are recomputed
/// from the residual stream and the stored rstd / gate / up, which is cheap
/// elementwise work and saves 2·H + I floats per row and layer.
struct LayerActivations {
    var rstd1, rstd2: UnsafeMutablePointer<Float>        // [R]
    var qPre, kPre: UnsafeMutablePointer<Float>?          // [R·Q], [R·K] before the q/k norms (Qwen3)
    var rstdQ, rstdK: UnsafeMutablePointer<Float>?        // [R·heads], [R·kvHeads]
    var q, k, v: UnsafeMutablePointer<Float>              // after RoPE: [R·Q], [R·K], [R·K]
    var attn: UnsafeMutablePointer<Float>                 // attention output before o_proj [R·Q]
    var lse: UnsafeMutablePointer<Float>                  // [R·heads]
    var xMid: UnsafeMutablePointer<Float>                 // residual after attention [R·H]
    var gate, up: UnsafeMutablePointer<Float>             // [R·I]
    var xa: [UnsafeMutablePointer<Float>?]                // x·Aᵀ per LoRA target [R·rank]
}

/// One allocation holding every activation and backward scratch of a step,
/// carved into views (llm.c style). With `checkpointing`, only the residual
/// stream entering each layer is kept per layer; all layers share one set of
/// the other activations, and the backward recomputes a layer's forward just
/// before differentiating it: memory per layer drops from about
/// 5·H + 2·I + … floats per row to H.
final class ActivationStore {
    let rows: Int
    let checkpointing: Bool
    private let buffer: FloatBuffer
    let bytes: Int

    let residual: [UnsafeMutablePointer<Float>]   // L + 1 entries [R·H]; the last is the final norm's input
    let layers: [LayerActivations]                 // L entries (all alike when checkpointing)
    let rstdFinal: UnsafeMutablePointer<Float>     // [R]
    let hidden: UnsafeMutablePointer<Float>        // final normed hidden states [R·H]
    let ropeCos, ropeSin: UnsafeMutablePointer<Float>  // [R·D/2]
    // Scratch shared by forward and backward.
    let h: UnsafeMutablePointer<Float>             // a normed block input [R·H]
    let act: UnsafeMutablePointer<Float>           // silu(gate)·up [R·I]
    let dResidual: UnsafeMutablePointer<Float>     // [R·H]
    let dh: UnsafeMutablePointer<Float>            // [R·H]
    let dq, dAttn: UnsafeMutablePointer<Float>     // [R·Q]
    let dk, dv: UnsafeMutablePointer<Float>        // [R·K]
    let dGate, dUp: UnsafeMutablePointer<Float>    // [R·I]
    let dxa: UnsafeMutablePointer<Float>           // [R·maxRank]
    let attentionScratch: UnsafeMutablePointer<Float>
    /// `attentionSlots` slots of `attentionSlot` floats in `attentionScratch`.
    let attentionSlot: Int, attentionSlots: Int

    init(config c: ModelConfig, batch: PackedSequences, loraRanks: [Int?], checkpointing: Bool) throws {
        let R = batch.rows, H = c.hiddenSize, Q = c.qDim, K = c.kvDim, I = c.intermediateSize
        let maxRank = loraRanks.compactMap { $0 }.max() ?? 0
        // One attention scratch slot per pool thread: sequences run in parallel.
        let slot = batch.lengths.map { AttentionTraining.scratchCount(tokens: $0) }.max() ?? 0
        let slots = max(1, min(ThreadPool.shared.threads, batch.lengths.count))
        let attention = slot * slots
        attentionSlot = slot
        attentionSlots = slots
        self.rows = R
        self.checkpointing = checkpointing

        // Pass 1 counts, pass 2 hands out views of the real allocation.
        func carve(_ take: (Int) -> UnsafeMutablePointer<Float>) -> (residual: [UnsafeMutablePointer<Float>], layers: [LayerActivations], rest: [UnsafeMutablePointer<Float>]) {
            let residual = (0...c.layerCount).map { _ in take(R * H) }
            func layer() -> LayerActivations {
                LayerActivations(
                    rstd1: take(R), rstd2: take(R),
                    qPre: c.qkNorm ? take(R * Q) : nil, kPre: c.qkNorm ? take(R * K) : nil,
                    rstdQ: c.qkNorm ? take(R * c.headCount) : nil, rstdK: c.qkNorm ? take(R * c.kvHeadCount) : nil,
                    q: take(R * Q), k: take(R * K), v: take(R * K), attn: take(R * Q), lse: take(R * c.headCount),
                    xMid: take(R * H), gate: take(R * I), up: take(R * I),
                    xa: loraRanks.map { r in r.map { take(R * $0) } })
            }
            var layers: [LayerActivations] = []
            if checkpointing {
                let shared = layer()
                layers = Array(repeating: shared, count: c.layerCount)
            } else {
                layers = (0..<c.layerCount).map { _ in layer() }
            }
            let rest = [take(R), take(R * H), take(R * c.headDim / 2), take(R * c.headDim / 2),
                        take(R * H), take(R * I), take(R * H), take(R * H), take(R * Q), take(R * Q),
                        take(R * K), take(R * K), take(R * I), take(R * I), take(R * max(maxRank, 1)), take(attention)]
            return (residual, layers, rest)
        }
        var total = 0
        let fake = UnsafeMutablePointer<Float>(bitPattern: 64)!
        _ = carve { n in total += (n + 15) / 16 * 16; return fake }
        guard total < Int(Int32.max) * 4 else { throw ScoreError.outOfMemory("activations for \(R) rows need \(total * 4) bytes") }
        buffer = FloatBuffer(count: total, zeroed: true)
        bytes = buffer.bytes
        var offset = 0
        let base = buffer.pointer
        let parts = carve { n in defer { offset += (n + 15) / 16 * 16 }; return base + offset }
        residual = parts.residual
        layers = parts.layers
        let r = parts.rest
        (rstdFinal, hidden, ropeCos, ropeSin, h, act, dResidual, dh) = (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
        (dq, dAttn, dk, dv, dGate, dUp, dxa, attentionScratch) = (r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15])
    }
}
