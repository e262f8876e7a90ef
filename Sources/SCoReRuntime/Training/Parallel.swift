/// Splits elementwise and row-wise training work over `ThreadPool.shared`.
/// The partition depends only on `count` and `grain`, never on the number of
/// threads, and every reduction is summed in partition order, so results are
/// bit-identical for any thread count (a resumed run may use other threads).
enum Parallel {
    static func chunks(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let grain = max(1, grain)
        let parts = (count + grain - 1) / grain
        if parts == 1 { return body(0..<count) }
        ThreadPool.shared.run(parts: parts) { p in body((p * grain)..<min(count, (p + 1) * grain)) }
    }

    /// Σ of per-chunk partial results, added in chunk order.
    static func sum(_ count: Int, grain: Int, _ partial: (Range<Int>) -> Double) -> Double {
        guard count > 0 else { return 0 }
        let parts = (count + max(1, grain) - 1) / max(1, grain)
        var partials = [Double](repeating: 0, count: parts)
        partials.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            chunks(count, grain: grain) { range in base[range.lowerBound / max(1, grain)] = partial(range) }
        }
        return partials.reduce(0, +)
    }
}
