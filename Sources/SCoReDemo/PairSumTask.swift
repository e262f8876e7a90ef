import SCoReRuntime

/// The demo's default task: "3 8 1 7 4 : 11" asks for the two numbers of
/// the list that add up to 11 ("3+8"). Exactly one pair does.
///
/// Why this task shows self-correction: finding the pair means checking
/// every pair at once, which a small model learns only partly, while
/// checking a given pair is one addition. A first attempt that does not add
/// up can be recognised as wrong from the context, and a second attempt can
/// avoid it — information the first attempt never has. So attempt 2 can
/// beat attempt 1 for good, not only until attempt 1 learns the same trick
/// (single-turn RL can only get better at the search itself).
///
/// The warm-start data comes from a student who answers correctly with
/// probability 1 − slipRate and otherwise names a random wrong pair; the
/// second turn is another, independent answer of the same student, so the
/// warm-started model has no self-correction skill of its own.
public struct PairSumTask: Sendable {
    public struct Problem: Sendable, Equatable {
        public let numbers: [Int]
        public let target: Int
        public var text: String { numbers.map(String.init).joined(separator: " ") + " : " + String(target) }
        /// The pair, in list order.
        public var answer: (Int, Int) {
            for i in numbers.indices { for j in (i + 1)..<numbers.count where numbers[i] + numbers[j] == target { return (numbers[i], numbers[j]) } }
            return (0, 0)
        }
        public var reference: String { "\(answer.0)+\(answer.1)" }
    }

    public var count = 5
    public var slipRate = 0.3

    public init(count: Int = 5, slipRate: Double = 0.3) {
        self.count = count
        self.slipRate = slipRate
    }

    /// A random problem: `count` distinct digits 1…9 and a target that
    /// exactly one pair reaches.
    public func problem(rng: inout TrainingRNG) -> Problem {
        while true {
            var pool = Array(1...9)
            var numbers: [Int] = []
            for _ in 0..<count { numbers.append(pool.remove(at: Int(rng.nextUniform() * Double(pool.count)))) }
            var sums: [Int: Int] = [:]
            for i in numbers.indices { for j in (i + 1)..<numbers.count { sums[numbers[i] + numbers[j], default: 0] += 1 } }
            let unique = sums.filter { $0.value == 1 }.map(\.key).sorted()
            if unique.isEmpty { continue }
            return Problem(numbers: numbers, target: unique[Int(rng.nextUniform() * Double(unique.count))])
        }
    }

    /// `heldOut` evaluation problems and a generator of training problems
    /// that never yields one of them.
    public func split(heldOut: Int, seed: UInt64) -> (eval: [Problem], excluded: Set<String>) {
        var rng = TrainingRNG(seed: seed ^ 0x9A15)
        var eval: [Problem] = [], seen: Set<String> = []
        while eval.count < heldOut {
            let p = problem(rng: &rng)
            if seen.insert(p.text).inserted { eval.append(p) }
        }
        return (eval, seen)
    }

    public func trainingProblem(rng: inout TrainingRNG, excluding held: Set<String>) -> Problem {
        while true {
            let p = problem(rng: &rng)
            if !held.contains(p.text) { return p }
        }
    }

    /// An answer from the student: right, or now and then a wrong pair.
    public func studentAnswer(_ p: Problem, rng: inout TrainingRNG) -> String {
        guard rng.nextUniform() < slipRate else { return p.reference }
        while true {
            let i = Int(rng.nextUniform() * Double(p.numbers.count)), j = Int(rng.nextUniform() * Double(p.numbers.count))
            guard i < j else { continue }
            let (a, b) = (p.numbers[i], p.numbers[j])
            if a + b != p.target { return "\(a)+\(b)" }
        }
    }

    /// 1 when the attempt is "x+y" with x and y two different entries of the
    /// problem's list that add up to its target (either order), else 0.
    public static func reward(problem: String, attempt: String) -> Float {
        let parts = problem.split(separator: ":")
        guard parts.count == 2, let target = Int(parts[1].trimmingCharacters(in: " ")) else { return 0 }
        let numbers = parts[0].split(separator: " ").compactMap { Int($0) }
        let terms = attempt.trimmingCharacters(in: " \n.").split(separator: "+", omittingEmptySubsequences: false)
        guard terms.count == 2, let x = Int(terms[0]), let y = Int(terms[1]), x + y == target else { return 0 }
        guard let i = numbers.firstIndex(of: x) else { return 0 }
        var rest = numbers
        rest.remove(at: i)
        return rest.contains(y) ? 1 : 0
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}
