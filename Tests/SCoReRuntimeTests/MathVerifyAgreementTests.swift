#if canImport(Glibc)
import Glibc
#endif
import Testing
import SCoReRuntime

/// The math verifier against Hugging Face's math-verify: 1,310 (prediction,
/// gold) pairs labelled by math-verify itself (tools/make_math_verify_fixtures.py).
/// Where we disagree on purpose, because math-verify is wrong, the pair is
/// listed in `knownDisagreements` with the reason; every other pair must agree.
@Suite struct MathVerifyAgreementTests {
    struct Pair {
        let category: String
        let prediction: String
        let gold: String
        let label: Bool
    }

    static let pairs: [Pair] = {
        let root = Fixtures.root.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let path = root + "/verify/math_verify_pairs.jsonl"
        guard let file = fopen(path, "r") else { return [] }
        defer { fclose(file) }
        var pairs: [Pair] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!)
            guard let json = try? JSON.parse(text, context: path), let c = json["category"]?.stringValue,
                  let p = json["prediction"]?.stringValue, let g = json["gold"]?.stringValue, let l = json["label"]?.boolValue
            else { continue }
            pairs.append(Pair(category: c, prediction: p, gold: g, label: l))
        }
        free(line)
        return pairs
    }()

    /// (prediction, gold) where math-verify's label is wrong and ours is right.
    static let knownDisagreements: [String: String] = [
        #"Therefore, the answer is $\boxed{\frac{3}{4}.}$. || \frac{3}{4}"#:
            "a period inside the box is punctuation; math-verify fails to parse the box",
        #"The final answer is $\frac{1}{3}$. I hope it is correct. || 33\frac{1}{3}\%"#:
            #"33⅓% is 1/3; math-verify reads the gold 33\frac{1}{3}\% as 33"#,
        #"Therefore, the answer is $\boxed{175\degree}$. || 175^\circ"#:
            #"\degree is a degree sign like ^\circ; math-verify leaves it unparsed"#,
        #"\boxed{\frac{1}{3}} is wrong; the answer is \boxed{\frac{1}{2}} || \frac{1}{2}"#:
            "the last box is the answer; math-verify merges both boxes into the set {1/3, 1/2}",
        #"\boxed{1\,000\,000} || 1000000"#:
            #"\, between groups of three digits is a thousands separator; math-verify reads 1·0·0"#,
        "Plugging in $39$ gives the answer \\fbox{46}. || 46":
            #"\fbox is a box like \boxed; math-verify ignores it and takes the earlier $39$"#,
    ]

    @Test func agreesWithMathVerify() throws {
        let verifier = try Verifier.parse("math")
        #expect(Self.pairs.count >= 1000)
        var perCategory: [String: (agree: Int, total: Int)] = [:]
        var unexpected: [String] = []
        for pair in Self.pairs {
            let ours = verifier.reward(attempt: pair.prediction, reference: pair.gold) == 1
            let known = Self.knownDisagreements[pair.prediction + " || " + pair.gold] != nil
            var tally = perCategory[pair.category] ?? (0, 0)
            tally.total += 1
            if ours == pair.label { tally.agree += 1 } else if !known {
                unexpected.append("[\(pair.category)] ours=\(ours) math-verify=\(pair.label): \(pair.prediction.debugDescription) || \(pair.gold.debugDescription)")
            }
            perCategory[pair.category] = tally
        }
        let agree = perCategory.values.reduce(0) { $0 + $1.agree }
        let report = perCategory.keys.sorted().map { c in
            let t = perCategory[c]!
            return "\(c): \(t.agree)/\(t.total)"
        }.joined(separator: ", ")
        print("math-verify agreement: \(agree)/\(Self.pairs.count); \(report)")
        for line in unexpected { print("DISAGREE " + line) }
        #expect(unexpected.isEmpty, "\(unexpected.count) pairs disagree with math-verify without a recorded reason")
        #expect(Double(agree) >= 0.99 * Double(Self.pairs.count))
        for (c, t) in perCategory { #expect(Double(t.agree) >= 0.97 * Double(t.total), "category \(c): \(t.agree)/\(t.total)") }
    }
}
