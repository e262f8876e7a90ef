/// out[m × n] (= or +=) x[m × k] · W[n × k]ᵀ for a few rows m (decoding).
///
/// With one to a few dozen activation rows the product is bound by reading
/// W, and OpenBLAS's sgemm spends most of its time packing W into panels
/// it then reads once. Here every row of W is streamed from memory exactly
/// once, dotted with all m activation rows while it sits in L1, and the
/// rows of W are split over the thread pool.
public enum SkinnyMatmul {
    /// Up to this many rows the streaming kernel beats packing sgemm.
    public static let maxRows = 24

    typealias V = SIMD16<Float>

    public static func forward(m: Int, n: Int, k: Int,
                               x: UnsafePointer<Float>, ldx: Int,
                               w: UnsafePointer<Float>, ldw: Int? = nil,
                               out: UnsafeMutablePointer<Float>, ldo: Int,
                               accumulate: Bool, pool: ThreadPool = ThreadPool.shared) {
        let ldw = ldw ?? k
        // Parts of whole 4-row groups; enough parts to balance, few enough to be cheap.
        let groups = (n + 3) / 4
        let partsWanted = min(groups, max(1, pool.threads * 8))
        let groupsPerPart = (groups + partsWanted - 1) / partsWanted
        let parts = (groups + groupsPerPart - 1) / groupsPerPart
        pool.run(parts: parts) { part in
            let begin = part * groupsPerPart * 4
            let end = min(n, begin + groupsPerPart * 4)
            rows(begin, end, m: m, k: k, x: x, ldx: ldx, w: w, ldw: ldw, out: out, ldo: ldo, accumulate: accumulate)
        }
    }

    @inline(__always)
    public static func rows(_ begin: Int, _ end: Int, m: Int, k: Int,
                     x: UnsafePointer<Float>, ldx: Int, w: UnsafePointer<Float>, ldw: Int,
                     out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        if m == 1 {
            // One activation row: walk W front to back as a single stream, one
            // row at a time. Four interleaved row streams, each only k floats
            // long, keep the hardware prefetcher retraining; this reads at
            // nearly twice the bandwidth. `dot` sums in the same order as the
            // blocks below, so a sequence's results do not depend on the batch.
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
                let d = dot(w + j * ldw, x + i * ldx, k)
                out[i * ldo + j] = accumulate ? out[i * ldo + j] + d : d
            }
            j += 1
        }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    static func hsum(_ v: V) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    @inline(__always)
    static func store(_ value: Float, _ p: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        p.pointee = accumulate ? p.pointee + value : value
    }

    /// Four rows of W against one row of x.
    @inline(__always)
    static func block4x1(_ w: UnsafePointer<Float>, _ ldw: Int, _ k: Int, _ x: UnsafePointer<Float>,
                         _ out: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
        var t = 0
        while t + 16 <= k {
            let xv = load(x + t)
            a0 = a0.addingProduct(load(w + t), xv)
            a1 = a1.addingProduct(load(w + ldw + t), xv)
            a2 = a2.addingProduct(load(w + 2 * ldw + t), xv)
            a3 = a3.addingProduct(load(w + 3 * ldw + t), xv)
            t += 16
        }
        var s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3)
        while t < k {
            s0 += w[t] * x[t]; s1 += w[ldw + t] * x[t]; s2 += w[2 * ldw + t] * x[t]; s3 += w[3 * ldw + t] * x[t]
            t += 1
        }
        store(s0, out, accumulate); store(s1, out + 1, accumulate)
        store(s2, out + 2, accumulate); store(s3, out + 3, accumulate)
    }

    /// Four rows of W against four rows of x: 16 accumulators, each W and x
    /// vector loaded once per step.
    @inline(__always)
    static func block4x4(_ w: UnsafePointer<Float>, _ ldw: Int, _ k: Int, _ x: UnsafePointer<Float>, _ ldx: Int,
                         _ out: UnsafeMutablePointer<Float>, _ ldo: Int, _ accumulate: Bool) {
        var c00 = V(), c01 = V(), c02 = V(), c03 = V()
        var c10 = V(), c11 = V(), c12 = V(), c13 = V()
        var c20 = V(), c21 = V(), c22 = V(), c23 = V()
        var c30 = V(), c31 = V(), c32 = V(), c33 = V()
        var t = 0
        while t + 16 <= k {
            let w0 = load(w + t), w1 = load(w + ldw + t), w2 = load(w + 2 * ldw + t), w3 = load(w + 3 * ldw + t)
            let x0 = load(x + t)
            c00 = c00.addingProduct(w0, x0); c01 = c01.addingProduct(w1, x0)
            c02 = c02.addingProduct(w2, x0); c03 = c03.addingProduct(w3, x0)
            let x1 = load(x + ldx + t)
            c10 = c10.addingProduct(w0, x1); c11 = c11.addingProduct(w1, x1)
            c12 = c12.addingProduct(w2, x1); c13 = c13.addingProduct(w3, x1)
            let x2 = load(x + 2 * ldx + t)
            c20 = c20.addingProduct(w0, x2); c21 = c21.addingProduct(w1, x2)
            c22 = c22.addingProduct(w2, x2); c23 = c23.addingProduct(w3, x2)
            let x3 = load(x + 3 * ldx + t)
            c30 = c30.addingProduct(w0, x3); c31 = c31.addingProduct(w1, x3)
            c32 = c32.addingProduct(w2, x3); c33 = c33.addingProduct(w3, x3)
            t += 16
        }
        var s: InlineArray<16, Float> = [hsum(c00), hsum(c01), hsum(c02), hsum(c03),
                                         hsum(c10), hsum(c11), hsum(c12), hsum(c13),
                                         hsum(c20), hsum(c21), hsum(c22), hsum(c23),
                                         hsum(c30), hsum(c31), hsum(c32), hsum(c33)]
        if t < k {
            for i in 0..<4 {
                for r in 0..<4 {
                    for u in t..<k { s[i * 4 + r] += w[r * ldw + u] * x[i * ldx + u] }
                }
            }
        }
        for i in 0..<4 {
            for r in 0..<4 { store(s[i * 4 + r], out + i * ldo + r, accumulate) }
        }
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ k: Int) -> Float {
        var acc = V()
        var t = 0
        while t + 16 <= k {
            acc = acc.addingProduct(load(a + t), load(b + t))
            t += 16
        }
        var s = hsum(acc)
        while t < k {
            s += a[t] * b[t]
            t += 1
        }
        return s
    }
}
