import Testing
import SCoReRuntime

/// The answer verifiers (SCoRe's rewards): a table of attempts and references
/// with the reward each must get, then extraction, parsing and hostile input.
@Suite struct VerifierTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let kind: VerifierKind
        let attempt: String
        let reference: String
        let reward: Float
        var testDescription: String { "\(kind.name): \(attempt.prefix(60)) vs \(reference.prefix(30)) -> \(reward)" }
    }

    static func exact(_ a: String, _ r: String, _ reward: Float) -> Case { Case(kind: .exact, attempt: a, reference: r, reward: reward) }
    static func numeric(_ a: String, _ r: String, _ reward: Float) -> Case { Case(kind: .numeric, attempt: a, reference: r, reward: reward) }
    static func math(_ a: String, _ r: String, _ reward: Float) -> Case { Case(kind: .math, attempt: a, reference: r, reward: reward) }

    static let paperSentence = #"Final Answer: The final answer is $\frac{1}{2}$. I hope it is correct."#

    static let cases: [Case] = [
        // exact: trim, collapse whitespace, ASCII case, trailing period; extraction first.
        exact("Paris", "paris", 1),
        exact("  Paris.  ", "Paris", 1),
        exact("New   York\n\tCity", "new york city", 1),
        exact("London", "Paris", 0),
        exact("Paris!", "Paris", 0),
        exact("Final Answer: The final answer is $Paris$. I hope it is correct.", "paris", 1),
        exact(#"So the answer is \boxed{Yes}."#, "yes", 1),
        exact("The capital is Paris.", "Paris", 0),
        exact("", "", 0),
        exact("ÉCOLE", "école", 0),
        exact(#"\boxed{Paris"#, "Paris", 0),

        // numeric: the last number, separators, signs, decimals, fractions, tolerance.
        numeric("She has 3 apples, then 15 more: 18", "18", 1),
        numeric("The total is 1,234 dollars.", "1234", 1),
        numeric("x = -5", "-5", 1),
        numeric("The answer is 5", "-5", 0),
        numeric("\u{2212}7", "-7", 1),
        numeric("3.50", "3.5", 1),
        numeric(".5", "0.5", 1),
        numeric("3/4", "0.75", 1),
        numeric("-3/4", "-0.75", 1),
        numeric("1/2", "1/3", 0),
        numeric("0.3333333", "1/3", 1),
        numeric("0.333", "1/3", 0),
        numeric("2.0000001", "2", 1),
        numeric("2.001", "2", 0),
        numeric("$1,234,567.89", "1234567.89", 1),
        numeric("1e3", "1000", 1),
        numeric("1, 2, 3", "3", 1),
        numeric("The answer is 42.", "42", 1),
        numeric(#"\boxed{42}"#, "42", 1),
        numeric("The final answer is 13. I hope it is correct. (I first got 15.)", "13", 1),
        numeric("No numbers here.", "5", 0),
        numeric("", "5", 0),
        numeric("1" + String(repeating: "0", count: 400), "1" + String(repeating: "0", count: 400), 1),
        numeric("2" + String(repeating: "0", count: 400), "1" + String(repeating: "0", count: 400), 0),

        // math: extraction from the paper's sentence and from the last box.
        math("Adding the two halves gives one half.\n" + paperSentence, #"\frac{1}{2}"#, 1),
        math(paperSentence, "0.5", 1),
        math(paperSentence, "1/3", 0),
        math("Final Answer: The final answer is 3.5. I hope it is correct.", #"\frac72"#, 1),
        math(#"The final answer is $\boxed{7}$."#, "7", 1),
        math(#"First \boxed{3}, but actually \boxed{4}"#, "4", 1),
        math(#"First \boxed{3}, but actually \boxed{4}"#, "3", 0),
        math(#"So \boxed{3}. Final Answer: The final answer is $4$. I hope it is correct."#, "4", 1),
        math(#"\fbox{12}"#, "12", 1),
        math(#"\boxed 5"#, "5", 1),
        math(#"\boxed{6}"#, "The final answer is $6$.", 1),
        math(#"$\frac{1}{2}$"#, "1/2", 1),
        // math: fractions.
        math(#"\boxed{\frac12}"#, #"\frac{1}{2}"#, 1),
        math(#"\boxed{\dfrac{1}{2}}"#, "0.5", 1),
        math(#"\boxed{\tfrac{3}{4}}"#, "0.75", 1),
        math(#"\boxed{2/4}"#, #"\frac{1}{2}"#, 1),
        math(#"\boxed{1/2}"#, "1/3", 0),
        math(#"\boxed{0.5}"#, #"\frac{1}{3}"#, 0),
        math(#"\boxed{-\frac{1}{2}}"#, "-0.5", 1),
        math(#"\boxed{\frac{-1}{2}}"#, #"-\frac12"#, 1),
        math(#"\boxed{\frac{\sqrt{3}}{2}}"#, #"\frac{\sqrt3}2"#, 1),
        math(#"\boxed{0.3333333}"#, #"\frac{1}{3}"#, 1),
        math(#"\boxed{\frac{1}{0}}"#, "1", 0),
        // math: symbolic answers match as canonical text only.
        math(#"\boxed{\frac x2}"#, #"\frac{x}{2}"#, 1),
        math(#"\boxed{\dfrac{a}{b}}"#, #"\frac{a}{b}"#, 1),
        math(#"\boxed{\sqrt x}"#, #"\sqrt{x}"#, 1),
        math(#"\boxed{\left(x, y\right)}"#, "(x,y)", 1),
        math(#"\boxed{\frac{x}{2}}"#, #"\frac{2}{x}"#, 0),
        // math: units, degrees, percent, dollars, separators, spacing.
        math(#"\boxed{5\text{ cm}}"#, "5", 1),
        math(#"\boxed{5 \mbox{ inches}}"#, "5", 1),
        math(#"\boxed{12\mathrm{m}^2}"#, "12", 1),
        math(#"\boxed{5\text{ cm}}"#, "6", 0),
        math(#"\boxed{\text{(B)}}"#, "(B)", 1),
        math(#"\boxed{\text{Monday}}"#, #"\text{Monday}"#, 1),
        math(#"\boxed{90^\circ}"#, "90", 1),
        math(#"\boxed{90^{\circ}}"#, "90", 1),
        math(#"\boxed{50\%}"#, "50", 1),
        math(#"\boxed{10\%}"#, "0.1", 1),  // as math-verify: a percent is also its value
        math(#"\boxed{\$18.90}"#, "18.9", 1),
        math(#"\boxed{1,000,000}"#, "1000000", 1),
        math(#"\boxed{1,\!234}"#, "1234", 1),
        math(#"\boxed{5\,000}"#, "5000", 1),
        math("$1{,}000$", "1000", 1),
        math(#"\boxed{\left( 3 \right)}"#, "3", 1),
        math(#"\boxed{x + 1}"#, "x+1", 1),
        math(#"\boxed{x = 5}"#, "5", 1),
        math(#"\boxed{a}"#, "b", 0),
        // math: expressions.
        math(#"\boxed{2\sqrt{2}}"#, #"\sqrt{8}"#, 1),
        math(#"\boxed{\sqrt2}"#, #"\sqrt{2}"#, 1),
        math(#"\boxed{\sqrt{2}}"#, #"\sqrt{3}"#, 0),
        math(#"\boxed{\sqrt[3]{-8}}"#, "-2", 1),
        math(#"\boxed{3 \cdot 4}"#, "12", 1),
        math(#"\boxed{2 \times 10^3}"#, "2000", 1),
        math(#"\boxed{2^{10}}"#, "1024", 1),
        math(#"\boxed{-2^2}"#, "-4", 1),
        math(#"\boxed{2(3+4)}"#, "14", 1),
        math(#"\boxed{(3)(4)}"#, "12", 1),
        math(#"\boxed{\pi}"#, "3.14159265358979", 1),
        math(#"\boxed{2\pi}"#, "6.28", 0),
        // math: tuples and intervals, item by item.
        math(#"\boxed{\left( 1, 2 \right)}"#, "(1,2)", 1),
        math(#"\boxed{(1, 2)}"#, "(2, 1)", 0),
        math(#"\boxed{[0, \frac{1}{2})}"#, "[0, 0.5)", 1),
        math(#"\boxed{[0, 1)}"#, "[0, 1]", 0),
        math(#"\boxed{\left[ -1, 3 \right]}"#, "[-1,3]", 1),
        math(#"\boxed{1, 2, 3}"#, "1,2,3", 1),
        math(#"\boxed{1, 2, 3}"#, "1,2", 0),
        // math: no answer, broken answers, extremes.
        math("I could not solve it.", "5", 0),
        math("", "5", 0),
        math(#"\boxed{}"#, "", 0),
        math(#"\boxed{\frac{1}{2}"#, #"\frac{1}{2}"#, 1),  // an unclosed box; the bare \frac{1}{2} is read, as by math-verify
        math(#"\frac{1}{2"#, #"\frac{1}{2}"#, 0),
        math("((1+2)", "3", 0),
        math(#"}}}{{{\\\boxed"#, "5", 0),
        math(#"\boxed{10^{1000}}"#, "10^{1000}", 1),
        math(#"\boxed{10^{1000}}"#, "10^{999}", 0),
        math(String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000), "1", 0),
        math(String(repeating: #"\frac{1}{"#, count: 5_000) + "1" + String(repeating: "}", count: 5_000), "1", 1),  // the innermost \frac{1}{1}, as math-verify reads it
        // math: equivalence, not spelling (the cases the old verifier missed).
        math(#"\boxed{\frac{7}{3}}"#, #"2\frac{1}{3}"#, 1),
        math(#"\boxed{0.25}"#, #"25\%"#, 1),
        math(#"\boxed{\{1, 2, 3\}}"#, #"\{3, 2, 1\}"#, 1),
        math(#"\boxed{-1, 4}"#, "4, -1", 1),
        math(#"\boxed{x^2+2x+1}"#, "(x+1)^2", 1),
        math(#"\boxed{2x}"#, "x+x", 1),
        math(#"\boxed{x^2-1}"#, "(x-1)(x+1)", 1),
        math(#"\boxed{3!}"#, "6", 1),
        math(#"\boxed{\frac{1}{\sqrt{2}}}"#, #"\frac{\sqrt{2}}{2}"#, 1),
        math(#"\boxed{\frac{x^2-1}{x-1}}"#, "x+1", 1),
        math(#"\boxed{\frac{1}{x}+\frac{1}{y}}"#, #"\frac{x+y}{xy}"#, 1),
        math(#"\boxed{\sqrt{x^2}}"#, "x", 0),
        math(#"\boxed{x+1}"#, "x-1", 0),
        math(#"\boxed{1/2}"#, "12", 0),
        math(#"\boxed{\{1,2\}}"#, #"\{1,2,3\}"#, 0),
        math(#"\boxed{0.333}"#, #"\frac{1}{3}"#, 0),
        math(#"\boxed{(-\infty, 1) \cup (2, \infty)}"#, #"(2,\infty)\cup(-\infty,1)"#, 1),
        math(#"\boxed{4x + 6y = 12}"#, "2x + 3y = 6", 1),
        math(#"\boxed{5 \ge x}"#, #"x \le 5"#, 1),
        math(#"\boxed{\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}}"#, #"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}"#, 1),
        math(#"\boxed{\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}}"#, #"\begin{pmatrix} 1 & 2 \\ 3 & 5 \end{pmatrix}"#, 0),
        math(#"\boxed{\text{(B)}}"#, "B", 1),
    ]

    /// Input built to make a parser or an algebra system work forever: each
    /// is answered (not equal, or equal where it is) with bounded work.
    static let hostileMath: [(String, String, String, Float)] = [
        ("1 MB boxed sum", #"\boxed{"# + String(repeating: "1+", count: 500_000) + "1}", "500001", 0),
        ("1 MB of numbers", String(repeating: "1 ", count: 500_000), "1", 1),
        ("1 MB of $1$", String(repeating: "$1$ ", count: 250_000), "1", 1),
        ("1 MB after an open $", "$" + String(repeating: "x", count: 1_000_000), "1", 0),
        ("1 MB of answer words", String(repeating: "answer ", count: 150_000), "1", 0),
        ("nesting 10,000 deep", #"\boxed{"# + String(repeating: "{", count: 10_000) + "1" + String(repeating: "}", count: 10_000) + "}", "1", 0),
        ("sets nested 10,000 deep", "$" + String(repeating: #"\{"#, count: 10_000) + "1" + String(repeating: #"\}"#, count: 10_000) + "$", "1", 0),
        ("\\frac without arguments", #"\boxed{\frac}"#, "1", 0),
        ("10^{10^{10}}", #"\boxed{10^{10^{10}}}"#, "1", 0),
        ("(x+1)^{100000} against its spelling", #"\boxed{(x+1)^{100000}}"#, "(x+1)^{100000}", 1),
        ("(x+1)^{100000} against x^{100000}+1", #"\boxed{(x+1)^{100000}}"#, "x^{100000}+1", 0),
        ("(x+y+z)^{60}, past the term bound", #"\boxed{(x+y+z)^{60}}"#, "(z+y+x)^{60}", 1),
        ("100000!", #"\boxed{100000!}"#, "1", 0),
    ]

    /// Expressions the exact normal form cannot settle (roots of variables,
    /// trigonometric and logarithmic atoms) go to numeric evaluation at random
    /// points: rearranged forms must pass, and forms that differ by 10^-8 times
    /// an atom (about one part in 10^9 of these values) must not (the fallback accepts only
    /// differences below 1e-11 relative at every sampled point).
    @Test func numericFallbackSeparatesNearMisses() {
        let verifier = Verifier(kind: .math)
        var state: UInt64 = 12345
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n)) + 1
        }
        let atoms = [#"\sqrt{x}"#, #"\sin x"#, #"\ln(y)"#, #"\sqrt[3]{x y}"#, #"\cos(2x)"#, #"e^{x}"#]
        var falseAccepts = 0, falseRejects = 0
        for _ in 0..<400 {
            let terms = (0..<3).map { _ in (next(9), atoms[next(atoms.count) - 1]) }
            let written = terms.map { "\($0.0)\($0.1)" }.joined(separator: " + ")
            let rearranged = terms.reversed().map { "\($0.1) \\cdot \($0.0)" }.joined(separator: " + ")
            // Not a constant difference (that the exact form settles): a tiny multiple of an atom.
            let nearMiss = written + " + 10^{-8}" + terms[0].1
            if verifier.reward(attempt: "$\(rearranged)$", reference: written) != 1 { falseRejects += 1 }
            if verifier.reward(attempt: "$\(nearMiss)$", reference: written) != 0 { falseAccepts += 1 }
        }
        #expect(falseRejects == 0)
        #expect(falseAccepts == 0)
    }

    @Test func hostileMathIsBounded() {
        let verifier = Verifier(kind: .math)
        for (name, attempt, reference, reward) in Self.hostileMath {
            let start = ContinuousClock.now
            #expect(verifier.reward(attempt: attempt, reference: reference) == reward, "\(name)")
            // A hang guard, not a benchmark: each is milliseconds on any machine.
            #expect(ContinuousClock.now - start < .seconds(2), "\(name)")
        }
    }

    @Test(arguments: cases) func reward(of c: Case) {
        #expect(Verifier(kind: c.kind).reward(attempt: c.attempt, reference: c.reference) == c.reward)
    }

    @Test func extractsTheFinalAnswer() {
        #expect(AnswerExtraction.finalAnswer(Self.paperSentence) == #"\frac{1}{2}"#)
        #expect(AnswerExtraction.finalAnswer("The final answer is 5. I hope it is correct.") == "5")
        #expect(AnswerExtraction.finalAnswer("The final answer is: $$x^2$$\nMore text") == "x^2")
        #expect(AnswerExtraction.finalAnswer("**The final answer is** **42**") == "42")
        #expect(AnswerExtraction.finalAnswer(#"\boxed{\{1, 2\}} and \boxed{\frac{a}{b}}"#) == #"\frac{a}{b}"#)
        #expect(AnswerExtraction.finalAnswer(#"\boxed{\{1, 2\}}"#) == #"\{1, 2\}"#)
        #expect(AnswerExtraction.finalAnswer("No answer in this text.") == nil)
        #expect(AnswerExtraction.finalAnswer(#"\boxed{1 + \frac{2}{3}"#) == nil)
        #expect(AnswerExtraction.finalAnswer(#"\boxed{}"#) == nil)
        #expect(AnswerExtraction.finalAnswer("The final answer is") == nil)
    }

    @Test func parsesNamesAndTolerances() throws {
        for kind in VerifierKind.allCases { #expect(try Verifier.parse(kind.name).kind == kind) }
        #expect(VerifierKind(rawValue: 2) == .math)
        #expect(throws: ScoreError.invalidArgument("unknown verifier \"fuzzy\" (expected exact, numeric or math)")) {
            try Verifier.parse("fuzzy")
        }
        #expect(throws: ScoreError.self) { try Verifier.parse("numeric", tolerance: -1) }
        #expect(throws: ScoreError.self) { try Verifier.parse("numeric", tolerance: .nan) }
        let loose = try Verifier.parse("numeric", tolerance: 0.01)
        #expect(loose.reward(attempt: "3.14", reference: "3.14159") == 1)
        #expect(Verifier(kind: .numeric).reward(attempt: "3.14", reference: "3.14159") == 0)
        // The math verifier rounds floats to 6 places as math-verify does; the tolerance is numeric's.
        #expect(Verifier(kind: .math, tolerance: 0).reward(attempt: "0.3333333", reference: #"\frac{1}{3}"#) == 1)
    }

    /// Random strings over the characters the verifiers care about: every
    /// reward is 0 or 1, and none crashes or hangs.
    @Test func hostileInputNeverCrashes() {
        let pieces = [#"\boxed{"#, #"\fbox"#, "{", "}", "(", ")", "[", "]", #"\frac"#, #"\sqrt"#, "^", "$", #"\"#,
                      "1", "2", ".", ",", "-", "/", "*", " ", "=", "The final answer is", ". I hope", #"\text{"#,
                      #"\left("#, #"\right"#, "%", "e", "9999999999", "\u{2212}", "é", "\n", #"^\circ"#]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        for _ in 0..<2_000 {
            let text = (0..<next(24)).map { _ in pieces[next(pieces.count)] }.joined()
            let reference = (0..<next(6)).map { _ in pieces[next(pieces.count)] }.joined()
            for kind in VerifierKind.allCases {
                let r = Verifier(kind: kind).reward(attempt: text, reference: reference)
                #expect(r == 0 || r == 1)
            }
        }
    }
}
