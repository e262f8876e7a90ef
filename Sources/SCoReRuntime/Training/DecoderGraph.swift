/// Forward and hand-written backward of the whole decoder (Llama, Mistral,
/// Qwen2, Qwen3) over packed sequences, in F32, following the same steps as
/// `Transformer.forward` (whose logits it reproduces) while keeping what the
/// backward reads in an `ActivationStore`.
///
/// Gradients are ACCUMULATED into `grads` (so micro-batches add up); a nil
/// gradient pointer marks a frozen tensor whose gradient is never computed.
/// With LoRA, every base tensor is frozen and only the adapters get gradients.
final class DecoderGraph {
    let config: ModelConfig
    let rope: RoPE
    let attentionShape: AttentionTraining.Shape

    init(config: ModelConfig) {
        self.config = config
        rope = RoPE(headDim: config.headDim, theta: config.ropeTheta, scaling: config.ropeScaling)
        attentionShape = .init(heads: config.headCount, kvHeads: config.kvHeadCount, headDim: config.headDim,
                               window: config.slidingWindow)
    }

    /// Runs the decoder; the final normed hidden states end in `store.hidden` [R × H].
    /// `lora` holds one optional adapter per layer and target (nil: adapters off).
    func forward(_ batch: PackedSequences, weights: DecoderTensors, lora: [[LoRAPair?]]?, store: ActivationStore) {
        let c = config, H = c.hiddenSize, R = batch.rows, D = c.headDim
        for (b, start) in batch.starts.enumerated() {
            rope.tables(start: 0, count: batch.lengths[b], cos: store.ropeCos + start * D / 2, sin: store.ropeSin + start * D / 2)
        }
        let x0 = store.residual[0], E = weights.embedding!
        batch.tokens.withUnsafeBufferPointer { t in
            for r in 0..<R { (x0 + r * H).update(from: E + Int(t[r]) * H, count: H) }
        }
        for l in 0..<c.layerCount {
            layerForward(l, batch, weights: weights, lora: lora?[l], store: store, writeOutput: true)
        }
        RMSNorm.forward(out: store.hidden, outStride: H, x: store.residual[c.layerCount], xStride: H,
                        weight: weights.finalNorm!, rstd: store.rstdFinal, rows: R, dim: H, eps: c.rmsNormEps)
    }

    private func projections(_ w: LayerTensors, _ g: LayerTensors?, _ lora: [LoRAPair?]?) -> [Projection] {
        let ws = [w.q, w.k, w.v, w.o, w.gate, w.up, w.down]
        let gs = g.map { [$0.q, $0.k, $0.v, $0.o, $0.gate, $0.up, $0.down] }
        return (0..<7).map { i in
            Projection(w: ws[i], grad: gs?[i] ?? LinearTensors(weight: nil, bias: nil, rows: ws[i].rows, cols: ws[i].cols),
                       lora: lora?[i])
        }
    }

    /// One layer: residual[l] → residual[l+1] (skipped when recomputing for the backward).
    private func layerForward(_ l: Int, _ batch: PackedSequences, weights: DecoderTensors, lora: [LoRAPair?]?,
                              store: ActivationStore, writeOutput: Bool) {
        let c = config, H = c.hiddenSize, R = batch.rows, Q = c.qDim, K = c.kvDim, D = c.headDim
        let w = weights.layers[l], a = store.layers[l]
        let p = projections(w, nil, lora)
        let xIn = store.residual[l], h = store.h
        RMSNorm.forward(out: h, outStride: H, x: xIn, xStride: H, weight: w.inputNorm!, rstd: a.rstd1,
                        rows: R, dim: H, eps: c.rmsNormEps)
        p[0].forward(h, rows: R, into: a.qPre ?? a.q, accumulate: false, xa: a.xa[0])
        p[1].forward(h, rows: R, into: a.kPre ?? a.k, accumulate: false, xa: a.xa[1])
        p[2].forward(h, rows: R, into: a.v, accumulate: false, xa: a.xa[2])
        if let qPre = a.qPre, let kPre = a.kPre {
            RMSNorm.forward(out: a.q, outStride: D, x: qPre, xStride: D, weight: w.qNorm!, rstd: a.rstdQ!,
                            rows: R * c.headCount, dim: D, eps: c.rmsNormEps)
            RMSNorm.forward(out: a.k, outStride: D, x: kPre, xStride: D, weight: w.kNorm!, rstd: a.rstdK!,
                            rows: R * c.kvHeadCount, dim: D, eps: c.rmsNormEps)
        }
        Parallel.chunks(R, grain: 64) { rows in
            let half = D / 2, t = rows.lowerBound
            rope.apply(a.q + t * Q, rows: rows.count, stride: Q, heads: c.headCount, cos: store.ropeCos + t * half, sin: store.ropeSin + t * half)
            rope.apply(a.k + t * K, rows: rows.count, stride: K, heads: c.kvHeadCount, cos: store.ropeCos + t * half, sin: store.ropeSin + t * half)
        }
        eachSequence(batch, store) { b, s, scratch in
            AttentionTraining.forward(out: a.attn + s * Q, lse: a.lse + s * c.headCount,
                                      q: a.q + s * Q, k: a.k + s * K, v: a.v + s * K,
                                      tokens: batch.lengths[b], shape: attentionShape, scratch: scratch)
        }
        a.xMid.update(from: xIn, count: R * H)
        p[3].forward(a.attn, rows: R, into: a.xMid, accumulate: true, xa: a.xa[3])
        RMSNorm.forward(out: h, outStride: H, x: a.xMid, xStride: H, weight: w.postAttentionNorm!, rstd: a.rstd2,
                        rows: R, dim: H, eps: c.rmsNormEps)
        p[4].forward(h, rows: R, into: a.gate, accumulate: false, xa: a.xa[4])
        p[5].forward(h, rows: R, into: a.up, accumulate: false, xa: a.xa[5])
        guard writeOutput else { return }
        SwiGLU.forward(out: store.act, gate: a.gate, up: a.up, count: R * c.intermediateSize)
        let xOut = store.residual[l + 1]
        xOut.update(from: a.xMid, count: R * H)
        p[6].forward(store.act, rows: R, into: xOut, accumulate: true, xa: a.xa[6])
    }

    /// body(sequence, first row, scratch) for every sequence of the batch,
    /// the sequences dealt over the pool's threads (a scratch slot each).
    /// Sequences share nothing, so each gets the bits it gets alone.
    private func eachSequence(_ batch: PackedSequences, _ store: ActivationStore,
                              _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        let count = batch.starts.count, parts = min(store.attentionSlots, count)
        ThreadPool.shared.run(parts: parts) { part in
            var b = part
            while b < count {
                body(b, batch.starts[b], store.attentionScratch + part * store.attentionSlot)
                b += parts
            }
        }
    }

    /// Backpropagates dHidden [R × H] (the gradient of the final normed
    /// hidden states, e.g. from `LossHead`) through the decoder. Reads the
    /// activations of the last `forward` on the same batch and weights.
    func backward(_ batch: PackedSequences, dHidden: UnsafePointer<Float>, weights: DecoderTensors, grads: DecoderTensors,
                  lora: [[LoRAPair?]]?, store: ActivationStore) {
        let c = config, H = c.hiddenSize, R = batch.rows
        let dx = store.dResidual
        RMSNorm.backward(dx: dx, dxStride: H, dweight: grads.finalNorm, dy: dHidden, dyStride: H,
                         x: store.residual[c.layerCount], xStride: H, weight: weights.finalNorm!, rstd: store.rstdFinal,
                         rows: R, dim: H, accumulate: false)
        for l in stride(from: c.layerCount - 1, through: 0, by: -1) {
            if store.checkpointing {
                layerForward(l, batch, weights: weights, lora: lora?[l], store: store, writeOutput: false)
            }
            layerBackward(l, batch, weights: weights, grads: grads, lora: lora?[l], store: store)
        }
        if let dE = grads.embedding {
            batch.tokens.withUnsafeBufferPointer { t in
                GradientKernels.embeddingBackward(dE, dx: dx, tokens: t.baseAddress!, rows: R, dim: H)
            }
        }
    }

    /// store.dResidual: gradient of residual[l+1] in, gradient of residual[l] out.
    private func layerBackward(_ l: Int, _ batch: PackedSequences, weights: DecoderTensors, grads: DecoderTensors,
                               lora: [LoRAPair?]?, store: ActivationStore) {
        let c = config, H = c.hiddenSize, R = batch.rows, Q = c.qDim, K = c.kvDim, D = c.headDim, I = c.intermediateSize
        let w = weights.layers[l], g = grads.layers[l], a = store.layers[l]
        let p = projections(w, g, lora)
        let dx = store.dResidual, h = store.h, dh = store.dh, xIn = store.residual[l]
        // Normed inputs are recomputed (the stored rstd is rewritten with the same value).
        // MLP: x_out = x_mid + down(silu(gate(h2)) ⊙ up(h2)), h2 = norm(x_mid)
        RMSNorm.forward(out: h, outStride: H, x: a.xMid, xStride: H, weight: w.postAttentionNorm!, rstd: a.rstd2,
                        rows: R, dim: H, eps: c.rmsNormEps)
        SwiGLU.forward(out: store.act, gate: a.gate, up: a.up, count: R * I)
        p[6].backward(dy: dx, x: store.act, rows: R, dx: store.dGate, accumulateDx: false, xa: a.xa[6], dxa: store.dxa)
        Parallel.chunks(R * I, grain: 1 << 14) { r in
            let o = r.lowerBound
            SwiGLU.backward(dgate: store.dGate + o, dup: store.dUp + o, dout: store.dGate + o, gate: a.gate + o, up: a.up + o, count: r.count)
        }
        p[4].backward(dy: store.dGate, x: h, rows: R, dx: dh, accumulateDx: false, xa: a.xa[4], dxa: store.dxa)
        p[5].backward(dy: store.dUp, x: h, rows: R, dx: dh, accumulateDx: true, xa: a.xa[5], dxa: store.dxa)
        RMSNorm.backward(dx: dx, dxStride: H, dweight: g.postAttentionNorm, dy: dh, dyStride: H, x: a.xMid, xStride: H,
                         weight: w.postAttentionNorm!, rstd: a.rstd2, rows: R, dim: H, accumulate: true)

        // Attention: x_mid = x_in + o(attention(rope(q), rope(k), v)), q, k, v from h1 = norm(x_in)
        p[3].backward(dy: dx, x: a.attn, rows: R, dx: store.dAttn, accumulateDx: false, xa: a.xa[3], dxa: store.dxa)
        store.dk.initialize(repeating: 0, count: R * K)
        store.dv.initialize(repeating: 0, count: R * K)
        eachSequence(batch, store) { b, s, scratch in
            AttentionTraining.backward(dq: store.dq + s * Q, dk: store.dk + s * K, dv: store.dv + s * K,
                                       dout: store.dAttn + s * Q, out: a.attn + s * Q, lse: a.lse + s * c.headCount,
                                       q: a.q + s * Q, k: a.k + s * K, v: a.v + s * K,
                                       tokens: batch.lengths[b], shape: attentionShape, scratch: scratch)
        }
        Parallel.chunks(R, grain: 64) { rows in
            let half = D / 2, t = rows.lowerBound
            rope.applyBackward(store.dq + t * Q, rows: rows.count, stride: Q, heads: c.headCount, cos: store.ropeCos + t * half, sin: store.ropeSin + t * half)
            rope.applyBackward(store.dk + t * K, rows: rows.count, stride: K, heads: c.kvHeadCount, cos: store.ropeCos + t * half, sin: store.ropeSin + t * half)
        }
        if let qPre = a.qPre, let kPre = a.kPre {
            RMSNorm.backward(dx: store.dq, dxStride: D, dweight: g.qNorm, dy: store.dq, dyStride: D, x: qPre, xStride: D,
                             weight: w.qNorm!, rstd: a.rstdQ!, rows: R * c.headCount, dim: D, accumulate: false)
            RMSNorm.backward(dx: store.dk, dxStride: D, dweight: g.kNorm, dy: store.dk, dyStride: D, x: kPre, xStride: D,
                             weight: w.kNorm!, rstd: a.rstdK!, rows: R * c.kvHeadCount, dim: D, accumulate: false)
        }
        RMSNorm.forward(out: h, outStride: H, x: xIn, xStride: H, weight: w.inputNorm!, rstd: a.rstd1,
                        rows: R, dim: H, eps: c.rmsNormEps)
        p[0].backward(dy: store.dq, x: h, rows: R, dx: dh, accumulateDx: false, xa: a.xa[0], dxa: store.dxa)
        p[1].backward(dy: store.dk, x: h, rows: R, dx: dh, accumulateDx: true, xa: a.xa[1], dxa: store.dxa)
        p[2].backward(dy: store.dv, x: h, rows: R, dx: dh, accumulateDx: true, xa: a.xa[2], dxa: store.dxa)
        RMSNorm.backward(dx: dx, dxStride: H, dweight: g.inputNorm, dy: dh, dyStride: H, x: xIn, xStride: H,
                         weight: w.inputNorm!, rstd: a.rstd1, rows: R, dim: H, accumulate: true)
    }
}
