// The verifiers (Verify/), the math one above all: the input is the attempt,
// then after a NUL byte the reference (without one, the input is both).
@testable import SCoReRuntime

let verifiers = VerifierKind.allCases.map { Verifier(kind: $0, tolerance: 1e-6) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVerify(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let (a, b) = Fuzz.split(UnsafeBufferPointer(start: data, count: size))
    let attempt = Fuzz.text(a), reference = Fuzz.text(b ?? a)
    for v in verifiers {
        let r = v.reward(attempt: attempt, reference: reference)
        precondition(r == 0 || r == 1, "reward \(r)")
    }
    return 0
}
