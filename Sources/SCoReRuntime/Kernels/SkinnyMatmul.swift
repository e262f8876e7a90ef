import Synchronization

/// out[m × n] (= or +=) x[m × k] · W[n × k]ᵀ for a few rows m (decoding).
/// W is F32 or BF16 (`MatrixElement`); x, out and the arithmetic are F32.
///
/// With one to a few dozen activation rows the product is bound by reading
/// W, and OpenBLAS's sgemm spends most of its time packing W into panels
/// it then reads once. Here every row of W is streamed from memory exactly
/// once, dotted with all m activation rows while it sits in L1, and the
/// rows of W are split over the thread pool.
///
/// Every output is one accumulator summed step by step over k, reduced,
/// then the tail added in order, whichever kernel computes it: a sequence's
/// results do not depend on how many others share the batch.
public enum SkinnyMatmul {
    /// Up to this many rows the streaming kernel beats packing sgemm.
    public static let maxRows = 24

    typealias V = SIMD16<Float>

    public static func forward<W: MatrixElement>(m: Int, n: Int, k: Int,
                               x: UnsafePointer<Float>, ldx: Int,
                               w: UnsafePointer<W>, ldw: Int? = nil,
                               out: UnsafeMutablePointer<Float>, ldo: Int,
                               accumulate: Bool, pool: ThreadPool = ThreadPool.shared) {
        let ldw = ldw ?? k
        var arranged: FloatBuffer? = nil
        if W.rearrangesActivations {
            let buffer = FloatBuffer(count: m * k, zeroed: false)
            for i in 0..<m { W.arrange(x + i * ldx, into: buffer.pointer + i * k, count: k) }
            arranged = buffer
        }
        let xs = arranged.map { UnsafePointer($0.pointer) } ?? x
        let ldxs = arranged == nil ? ldx : k
        // Parts of whole 4-row groups; enough parts to balance, few enough to be cheap.
        let groups = (n + 3) / 4
        let partsWanted = min(groups, max(1, pool.threads * 8))
        let groupsPerPart = (groups + partsWanted - 1) / partsWanted
        let parts = (groups + groupsPerPart - 1) / groupsPerPart
        let chunk = activationChunk(k: k)
        let tile = weightTile(k: k, elementBytes: MemoryLayout<W>.stride)
        pool.run(parts: parts) { part in
            let begin = part * groupsPerPart * 4
            let end = min(n, begin + groupsPerPart * 4)
            if m == 1 {
                rows(begin, end, m: m, k: k, x: xs, ldx: ldxs, w: w, ldw: ldw, out: out, ldo: ldo, accumulate: accumulate)
                return
            }
            // The block kernels read four rows of W at once: four streams the
            // hardware prefetcher follows poorly from memory. So a tile of W
            // rows is first read front to back, one sequential stream, into
            // L2, and the kernels then run on it; activation rows that would
            // not stay in L1 beside it go a chunk at a time. Each output is
            // still one kernel's sum.
            var sink: UInt32 = 0
            var j = begin
            while j < end {
                let tileEnd = min(end, j + tile)
                sink &+= touch(UnsafeRawPointer(w + j * ldw), bytes: ((tileEnd - j - 1) * ldw + k) * MemoryLayout<W>.stride)
                var i = 0
                while i < m {
                    let count = min(chunk, m - i)
                    rows(j, tileEnd, m: count, k: k, x: xs + i * ldxs, ldx: ldxs, w: w, ldw: ldw,
                         out: out + i * ldo, ldo: ldo, accumulate: accumulate)
                    i += count
                }
                j = tileEnd
            }
            // A branch on the sum keeps the loads; it is almost never taken,
            // so the parts write no shared cache line.
            if sink == 0x5C0E_5C0E { touched.add(1, ordering: .relaxed) }
        }
        withExtendedLifetime(arranged) {}
    }

    /// Activation rows that stay in L1 (~20 KB of a 32 KB L1d) beside the
    /// stream of W: a multiple of 4 (the block kernel's height), at least 4.
    @inline(__always)
    static func activationChunk(k: Int) -> Int {
        max(4, (20 * 1024 / (4 * max(k, 1))) / 4 * 4)
    }

    /// One load per 64-byte line of [p, p + bytes): brings the range into
    /// cache as a single forward stream. The sum only keeps the loads alive.
    @inline(__always)
    static func touch(_ p: UnsafeRawPointer, bytes: Int) -> UInt32 {
        var sum: UInt32 = 0
        var offset = 0
        while offset < bytes {
            sum &+= p.load(fromByteOffset: offset, as: UInt32.self)
            offset += 64
        }
        return sum
    }

    /// Counts the (rare) tiles whose `touch` sum hits a fixed value: an
    /// observable use of the sums, so the compiler cannot drop the loads.
    static let touched = Atomic<UInt32>(0)

    /// Rows of W (a multiple of 4) that stay in L2 (~256 KB) while every
    /// activation chunk passes them.
    @inline(__always)
    static func weightTile(k: Int, elementBytes: Int) -> Int {
        max(4, (256 * 1024 / (elementBytes * max(k, 1))) / 4 * 4)
    }

    /// Rows begin ..< end of the output; x already arranged for W.
    @inline(__always)
    static func rows<W: MatrixElement>(_ begin: Int, _ end: Int, m: Int, k: Int,
                     x: UnsafePointer<Float>, ldx: Int, w: UnsafePointer<W>, ldw: Int,
                     out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        if m == 1 {
            // One activation row: walk W front to back as a single stream, one
            // row at a time. Four interleaved row streams, each only k elements
            // long, keep the hardware prefetcher retraining; this reads at
            // nearly twice the bandwidth.
            for j in begin..<end {
                store(dot(w + j * ldw, x, k), out + j, accumulate)
            }
            return
        }
        var j = begin
        while j + 4 <= end {
            var i = 0
            while i + 4 <= m {
                block4x4(w + j * ldw, ldw, k, x + i * ldx, ldx, out + i * ldo + j, ldo, accumulate)
                i += 4
            }
            while i < m {
                block4x1(w + j * ldw, ldw, k, x + i * ldx, out + i * ldo + j, accumulate)
                i += 1
            }
            j += 4
        }
        while j < end {
            for i in 0..<m {
                store(dot(w + j * ldw, x + i * ldx, k), out + i * ldo + j, accumulate)
            }
            j += 1
        }
    }

    @inline(__always)
    static func hsum(_ v: V) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    /// Sixteen `hsum`s at once: lane i of the result is hsum(v_i), the same
    /// additions of the same pairs in the same order (lane j with j + 8,
    /// then + 4, + 2, + 1), but each level adds whole vectors: two vectors'
    /// lower halves of every group against their upper halves, so sixteen
    /// reductions take 15 vector additions and 30 two-source shuffles
    /// instead of 16 chains of extracts and scalar adds.
    @inline(__always)
    static func hsum16(_ v0: V, _ v1: V, _ v2: V, _ v3: V, _ v4: V, _ v5: V, _ v6: V, _ v7: V,
                       _ v8: V, _ v9: V, _ v10: V, _ v11: V, _ v12: V, _ v13: V, _ v14: V, _ v15: V) -> V {
        // Groups of 16 lanes -> 8: lanes j and j + 8.
        @inline(__always) func halves16(_ a: V, _ b: V) -> V {
            V(lowHalf: a.lowHalf, highHalf: b.lowHalf) + V(lowHalf: a.highHalf, highHalf: b.highHalf)
        }
        // Groups of 8 -> 4 and 4 -> 2 move pairs of lanes: 64-bit elements.
        typealias Pairs = SIMD8<UInt64>
        @inline(__always) func pairs(_ v: V) -> Pairs { unsafeBitCast(v, to: Pairs.self) }
        @inline(__always) func floats(_ p: Pairs) -> V { unsafeBitCast(p, to: V.self) }
        @inline(__always) func halves8(_ a: V, _ b: V) -> V {
            let p = pairs(a), q = pairs(b)
            let lower = Pairs(lowHalf: SIMD4(lowHalf: p.lowHalf.lowHalf, highHalf: p.highHalf.lowHalf),
                              highHalf: SIMD4(lowHalf: q.lowHalf.lowHalf, highHalf: q.highHalf.lowHalf))
            let upper = Pairs(lowHalf: SIMD4(lowHalf: p.lowHalf.highHalf, highHalf: p.highHalf.highHalf),
                              highHalf: SIMD4(lowHalf: q.lowHalf.highHalf, highHalf: q.highHalf.highHalf))
            return floats(lower) + floats(upper)
        }
        @inline(__always) func halves4(_ a: V, _ b: V) -> V {
            let p = pairs(a), q = pairs(b)
            return floats(Pairs(lowHalf: p.evenHalf, highHalf: q.evenHalf)) + floats(Pairs(lowHalf: p.oddHalf, highHalf: q.oddHalf))
        }
        // Groups of 2 -> 1.
        @inline(__always) func halves2(_ a: V, _ b: V) -> V {
            V(lowHalf: a.evenHalf, highHalf: b.evenHalf) + V(lowHalf: a.oddHalf, highHalf: b.oddHalf)
        }
        let w0 = halves16(v0, v1), w1 = halves16(v2, v3), w2 = halves16(v4, v5), w3 = halves16(v6, v7)
        let w4 = halves16(v8, v9), w5 = halves16(v10, v11), w6 = halves16(v12, v13), w7 = halves16(v14, v15)
        let x0 = halves8(w0, w1), x1 = halves8(w2, w3), x2 = halves8(w4, w5), x3 = halves8(w6, w7)
        return halves2(halves4(x0, x1), halves4(x2, x3))
    }

    @inline(__always)
    static func store(_ value: Float, _ p: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        p.pointee = accumulate ? p.pointee + value : value
    }

    /// Four rows of W against one row of x.
    @inline(__always)
    static func block4x1<W: MatrixElement>(_ w: UnsafePointer<W>, _ ldw: Int, _ k: Int, _ x: UnsafePointer<Float>,
                                           _ out: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
        var t = 0
        while t + W.step <= k {
            a0 = W.multiplyAdd(a0, W.load(w + t), x + t)
            a1 = W.multiplyAdd(a1, W.load(w + ldw + t), x + t)
            a2 = W.multiplyAdd(a2, W.load(w + 2 * ldw + t), x + t)
            a3 = W.multiplyAdd(a3, W.load(w + 3 * ldw + t), x + t)
            t += W.step
        }
        var s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3)
        while t < k {
            s0 += W.widen(w + t) * x[t]; s1 += W.widen(w + ldw + t) * x[t]
            s2 += W.widen(w + 2 * ldw + t) * x[t]; s3 += W.widen(w + 3 * ldw + t) * x[t]
            t += 1
        }
        store(s0, out, accumulate); store(s1, out + 1, accumulate)
        store(s2, out + 2, accumulate); store(s3, out + 3, accumulate)
    }

    /// Four rows of W against four rows of x: 16 accumulators, each W step
    /// loaded (and widened) once for four activation rows.
    @inline(__always)
    static func block4x4<W: MatrixElement>(_ w: UnsafePointer<W>, _ ldw: Int, _ k: Int,
                                           _ x: UnsafePointer<Float>, _ ldx: Int,
                                           _ out: UnsafeMutablePointer<Float>, _ ldo: Int, _ accumulate: Bool) {
        var c00 = V(), c01 = V(), c02 = V(), c03 = V()
        var c10 = V(), c11 = V(), c12 = V(), c13 = V()
        var c20 = V(), c21 = V(), c22 = V(), c23 = V()
        var c30 = V(), c31 = V(), c32 = V(), c33 = V()
        var t = 0
        while t + W.step <= k {
            let w0 = W.load(w + t), w1 = W.load(w + ldw + t), w2 = W.load(w + 2 * ldw + t), w3 = W.load(w + 3 * ldw + t)
            let x0 = x + t
            c00 = W.multiplyAdd(c00, w0, x0); c01 = W.multiplyAdd(c01, w1, x0)
            c02 = W.multiplyAdd(c02, w2, x0); c03 = W.multiplyAdd(c03, w3, x0)
            let x1 = x + ldx + t
            c10 = W.multiplyAdd(c10, w0, x1); c11 = W.multiplyAdd(c11, w1, x1)
            c12 = W.multiplyAdd(c12, w2, x1); c13 = W.multiplyAdd(c13, w3, x1)
            let x2 = x + 2 * ldx + t
            c20 = W.multiplyAdd(c20, w0, x2); c21 = W.multiplyAdd(c21, w1, x2)
            c22 = W.multiplyAdd(c22, w2, x2); c23 = W.multiplyAdd(c23, w3, x2)
            let x3 = x + 3 * ldx + t
            c30 = W.multiplyAdd(c30, w0, x3); c31 = W.multiplyAdd(c31, w1, x3)
            c32 = W.multiplyAdd(c32, w2, x3); c33 = W.multiplyAdd(c33, w3, x3)
            t += W.step
        }
        var s = hsum16(c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33)
        if t < k {
            for i in 0..<4 {
                for r in 0..<4 {
                    for u in t..<k { s[i * 4 + r] += W.widen(w + r * ldw + u) * x[i * ldx + u] }
                }
            }
        }
        for i in 0..<4 {
            for r in 0..<4 { store(s[i * 4 + r], out + i * ldo + r, accumulate) }
        }
    }

    @inline(__always)
    static func dot<W: MatrixElement>(_ a: UnsafePointer<W>, _ b: UnsafePointer<Float>, _ k: Int) -> Float {
        var acc = V()
        var t = 0
        while t + W.step <= k {
            acc = W.multiplyAdd(acc, W.load(a + t), b + t)
            t += W.step
        }
        var s = hsum(acc)
        while t < k {
            s += W.widen(a + t) * b[t]
            t += 1
        }
        return s
    }
}
