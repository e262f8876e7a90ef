/// A small command-line parser: positional arguments, `--name value`,
/// `--name=value` and boolean `--flag`s. Unknown options are errors.
struct Arguments {
    var positional: [String] = []
    var options: [String: String] = [:]
    var flags: Set<String> = []

    init(_ args: ArraySlice<String>, valueOptions: Set<String>, flagOptions: Set<String>) throws {
        var it = args.makeIterator()
        while let arg = it.next() {
            if arg == "--" {
                while let rest = it.next() { positional.append(rest) }
            } else if arg.hasPrefix("--") {
                var name = String(arg.dropFirst(2))
                var value: String? = nil
                if let eq = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                if flagOptions.contains(name) {
                    guard value == nil else { throw UsageError("option --\(name) takes no value") }
                    flags.insert(name)
                } else if valueOptions.contains(name) {
                    guard let v = value ?? it.next() else { throw UsageError("option --\(name) needs a value") }
                    options[name] = v
                } else {
                    throw UsageError("unknown option --\(name)")
                }
            } else if arg == "-h" {
                flags.insert("help")
            } else {
                positional.append(arg)
            }
        }
    }

    func int(_ name: String, default def: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = options[name] else { return def }
        guard let v = Int(text), range.contains(v) else {
            throw UsageError("--\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return v
    }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
