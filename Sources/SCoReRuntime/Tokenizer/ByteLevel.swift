// GPT-2's byte-to-character alphabet. Byte-level BPE vocabularies spell
// every byte as a printable character: bytes that are printable Latin-1
// characters stand for themselves, the other 68 map to U+0100 and up, in
// byte order. The encoder never builds these strings: the BPE model is keyed
// by the raw bytes a token stands for (see `BPEModel`), so only loading and
// decoding translate.

enum ByteLevel {
    /// The character (scalar value) that spells each byte.
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// The inverse: scalar value -> byte, or -1 for characters outside the alphabet.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 512)
        for (b, s) in byteToScalar.enumerated() { table[Int(s)] = Int16(b) }
        return table
    }()

    /// The bytes a byte-level token stands for, or nil if a character is
    /// outside the alphabet (such tokens can never come out of the encoder).
    static func bytes(ofToken token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            let v = Int(s.value)
            guard v < 512, scalarToByte[v] >= 0 else { return nil }
            out.append(UInt8(scalarToByte[v]))
        }
        return out
    }

    /// Spells raw bytes in the alphabet (used for tests and token display).
    static func spell(_ bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(byteToScalar[Int(b)])!) }
        return String(s)
    }
}
