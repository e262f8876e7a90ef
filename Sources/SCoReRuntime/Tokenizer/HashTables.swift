// Open-addressing hash tables for the tokenizer's hot paths. Swift's
// Dictionary hashes with SipHash and needs an owned key (a String or an
// Array) for every lookup; encoding looks up every character, every merge
// candidate and every word, so these tables take raw byte spans and integer
// pairs and use a cheap multiplicative hash instead.

@inline(__always)
func mixHash(_ x: UInt64) -> UInt64 {
    var h = x &* 0x9E37_79B9_7F4A_7C15
    h ^= h >> 29
    h = h &* 0xBF58_476D_1CE4_E5B9
    return h ^ (h >> 32)
}

/// Hash of a byte span: 8 bytes at a time.
@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(truncatingIfNeeded: n)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= n {
        h = mixHash(h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        i += 8
    }
    if i < n {
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = mixHash(h ^ tail)
    }
    return h
}

/// A map from byte strings to 64-bit values. Keys are copied into one arena.
struct ByteStringMap {
    private struct Slot {
        var offset: Int32 = -1  // -1: empty
        var length: Int32 = 0
        var value: UInt64 = 0
    }

    private var arena: [UInt8] = []
    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: Slot(), count: size)
        mask = size - 1
    }

    /// Bytes held by keys (a cache uses it to bound its memory).
    var arenaBytes: Int { arena.count }

    func find(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64? {
        var i = Int(truncatingIfNeeded: hashBytes(p, n)) & mask
        return slots.withUnsafeBufferPointer { s in
            arena.withUnsafeBufferPointer { a in
                while true {
                    let slot = s[i]
                    if slot.offset < 0 { return nil }
                    if Int(slot.length) == n && memcmpEqual(a.baseAddress! + Int(slot.offset), p, n) { return slot.value }
                    i = (i + 1) & mask
                }
            }
        }
    }

    func find(_ bytes: [UInt8]) -> UInt64? {
        bytes.withUnsafeBufferPointer { b in
            // An empty array may have no base address; no key is empty.
            guard let base = b.baseAddress else { return nil }
            return find(base, b.count)
        }
    }

    /// Inserts or replaces.
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, value: UInt64) {
        if (count + 1) * 2 > slots.count { grow() }
        var i = Int(truncatingIfNeeded: hashBytes(p, n)) & mask
        while true {
            let slot = slots[i]
            if slot.offset < 0 { break }
            if Int(slot.length) == n && arena.withUnsafeBufferPointer({ memcmpEqual($0.baseAddress! + Int(slot.offset), p, n) }) {
                slots[i].value = value
                return
            }
            i = (i + 1) & mask
        }
        let offset = arena.count
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        slots[i] = Slot(offset: Int32(offset), length: Int32(n), value: value)
        count += 1
    }

    mutating func insert(_ bytes: [UInt8], value: UInt64) {
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { insert(base, b.count, value: value) }
        }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(), count: old.count * 2)
        mask = slots.count - 1
        arena.withUnsafeBufferPointer { a in
            for slot in old where slot.offset >= 0 {
                var i = Int(truncatingIfNeeded: hashBytes(a.baseAddress! + Int(slot.offset), Int(slot.length))) & mask
                while slots[i].offset >= 0 { i = (i + 1) & mask }
                slots[i] = slot
            }
        }
    }
}

@inline(__always)
func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 8 <= n {
        if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// A map from 64-bit keys (never UInt64.max) to 64-bit values: merge pairs
/// and trie edges.
struct IntPairMap {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = Array(repeating: Self.empty, count: size)
        values = Array(repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    func find(_ key: UInt64) -> UInt64? {
        keys.withUnsafeBufferPointer { k in
            var i = Int(truncatingIfNeeded: mixHash(key)) & mask
            while true {
                let stored = k[i]
                if stored == key { return values[i] }
                if stored == Self.empty { return nil }
                i = (i + 1) & mask
            }
        }
    }

    mutating func insert(_ key: UInt64, _ value: UInt64) {
        if (count + 1) * 2 > keys.count { grow() }
        var i = Int(truncatingIfNeeded: mixHash(key)) & mask
        while keys[i] != Self.empty && keys[i] != key { i = (i + 1) & mask }
        if keys[i] == Self.empty { count += 1 }
        keys[i] = key
        values[i] = value
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = Array(repeating: Self.empty, count: oldKeys.count * 2)
        values = Array(repeating: 0, count: oldKeys.count * 2)
        mask = keys.count - 1
        count = 0
        for (k, v) in zip(oldKeys, oldValues) where k != Self.empty { insert(k, v) }
    }
}
