import CKernels

/// How inference multiplies: F32 arithmetic (the default; RL needs it, so
/// that rollout log-probs equal the trainer's), or BF16 weights times
/// BF16-rounded activations with F32 sums (vdpbf16ps where the CPU has it):
/// about twice the prefill rate and half the bytes per decoded token, at a
/// measured cost in accuracy (README, "BF16 compute").
public enum ComputeMode: String, Sendable, CaseIterable {
    case f32, bf16
}

extension Weights {
    /// These weights with every matrix packed once into the panels our
    /// kernels stream: F32 matrices stay F32 (BF16 under `.bf16` compute,
    /// rounded to nearest even), BF16 ones stay BF16.
    ///
    /// Norms and biases are copied too, so the result refers to nothing of
    /// `self`: once `self` is dropped, the mapped files are unmapped and
    /// converted copies freed, and resident memory holds one copy.
    public func packed(config c: ModelConfig, compute: ComputeMode) -> Weights {
        var owned: [AnyObject] = []
        var bytes = 0
        var byAddress: [UnsafeRawPointer: WeightMatrix] = [:]

        // Every distinct matrix (a tied head is the embedding) into one arena.
        var distinct: [UnsafeRawPointer: Int] = [:]
        for m in matrices { distinct[m.address] = m.packedBytes(compute: compute) }
        let arena = PageArena(pieces: Array(distinct.values))
        owned.append(arena)

        func pack(_ m: WeightMatrix) -> WeightMatrix {
            if let done = byAddress[m.address] { return done }
            let packed = m.packed(compute: compute, in: arena)
            if packed.matrix.address != m.address { bytes += packed.matrix.bytes }
            byAddress[m.address] = packed.matrix
            return packed.matrix
        }

        func copy(_ v: UnsafePointer<Float>?, _ count: Int) -> UnsafePointer<Float>? {
            guard let v else { return nil }
            let buffer = FloatBuffer(count: count, zeroed: false)
            buffer.pointer.update(from: v, count: count)
            owned.append(buffer)
            bytes += buffer.bytes
            return UnsafePointer(buffer.pointer)
        }
        func linear(_ l: Linear) -> Linear { Linear(weight: pack(l.weight), bias: copy(l.bias, l.rows)) }

        let h = c.hiddenSize
        let packedLayers = layers.map { l in
            LayerWeights(inputNorm: copy(l.inputNorm, h)!, q: linear(l.q), k: linear(l.k), v: linear(l.v), o: linear(l.o),
                         qNorm: copy(l.qNorm, c.headDim), kNorm: copy(l.kNorm, c.headDim),
                         postAttentionNorm: copy(l.postAttentionNorm, h)!,
                         gate: linear(l.gate), up: linear(l.up), down: linear(l.down))
        }
        let embedding = pack(self.embedding)
        let head = pack(lmHead)
        return Weights(embedding: embedding, layers: packedLayers, finalNorm: copy(finalNorm, h)!, lmHead: head,
                       parameterCount: parameterCount, ownedBytes: bytes, owner: PackedStorage(owned),
                       storedType: storedType)
    }

    /// True when products round activations to BF16 (`ComputeMode.bf16`).
    public var computesInBF16: Bool {
        matrices.contains { if case .packedBF16(_, true) = $0.storage { return true } else { return false } }
    }

    final class PackedStorage {
        let buffers: [AnyObject]
        init(_ buffers: [AnyObject]) { self.buffers = buffers }
    }
}

/// A packed matrix and the memory that holds it (nil: nothing was copied).
public struct PackedMatrix {
    public let matrix: WeightMatrix
    public let storage: AnyObject?
}

extension WeightMatrix {
    /// The bytes `packed(compute:)` copies this matrix into (0: already packed).
    public func packedBytes(compute: ComputeMode) -> Int {
        switch storage {
        case .packedF32, .packedBF16: return 0
        case .f32 where compute == .f32: return scorek_packed_f32_size(rows, cols) * 4
        case .f32, .bf16: return scorek_packed_bf16_size(rows, cols) * 2
        }
    }

    /// This matrix packed into our kernels' panels (itself when already
    /// packed), in its own buffer (`storage`) or in a piece of `arena`.
    public func packed(compute: ComputeMode, in arena: PageArena? = nil) -> PackedMatrix {
        _ = KernelPath.prepare
        let (n, k) = (rows, cols)
        let panel = Int(SCOREK_PANEL)
        /// Packs in parallel, whole panels per part (panel q: rows 32q ..< 32q + 32).
        func inParallel(_ body: (Range<Int>) -> Void) {
            let panels = (n + panel - 1) / panel
            let parts = max(1, min(panels, 4 * ThreadPool.shared.threads))
            let per = (panels + parts - 1) / parts
            ThreadPool.shared.run(parts: parts) { part in
                let first = part * per * panel, last = min(n, (part + 1) * per * panel)
                if first < last { body(first..<last) }
            }
        }
        let pairStride = (k + 1) / 2 * 2
        /// Where the packed elements go: a piece of `arena`, or an arena of their own.
        func place<E>(_: E.Type) -> (UnsafeMutablePointer<E>, AnyObject?) {
            let bytes = packedBytes(compute: compute)
            let own = arena == nil ? PageArena(pieces: [bytes]) : nil
            let raw = (arena ?? own!).take(bytes: bytes)
            return (raw.bindMemory(to: E.self, capacity: bytes / MemoryLayout<E>.stride), own)
        }
        switch storage {
        case .packedF32, .packedBF16:
            return PackedMatrix(matrix: self, storage: nil)
        case .f32(let w) where compute == .f32:
            let (out, buffer) = place(Float.self)
            inParallel { r in scorek_pack_f32(r.count, k, w + r.lowerBound * k, k, out + r.lowerBound * k) }
            return PackedMatrix(matrix: WeightMatrix(.packedF32(UnsafePointer(out)), rows: n, cols: k), storage: buffer)
        case .f32(let w):
            let (out, buffer) = place(UInt16.self)
            inParallel { r in scorek_pack_bf16_from_f32(r.count, k, w + r.lowerBound * k, k, out + r.lowerBound * pairStride) }
            return PackedMatrix(matrix: WeightMatrix(.packedBF16(UnsafePointer(out), bf16Compute: true), rows: n, cols: k),
                                storage: buffer)
        case .bf16(let w):
            let (out, buffer) = place(UInt16.self)
            let source = UnsafeRawPointer(w).assumingMemoryBound(to: UInt16.self)
            inParallel { r in scorek_pack_bf16(r.count, k, source + r.lowerBound * k, k, out + r.lowerBound * pairStride) }
            return PackedMatrix(matrix: WeightMatrix(.packedBF16(UnsafePointer(out), bf16Compute: compute == .bf16), rows: n, cols: k),
                                storage: buffer)
        }
    }
}
