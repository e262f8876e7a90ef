/// The final answer a model wrote, as the verifiers extract it.
///
/// Two conventions are recognised:
/// - the SCoRe paper's closing sentence, "Final Answer: The final answer is
///   $answer$. I hope it is correct.": the text after the last "final answer
///   is" (any case), either the $…$ right after it or the rest of the line up
///   to ". I hope";
/// - the last `\boxed{…}` or `\fbox{…}` (braces balanced; `\boxed 5` also works).
/// When both occur the later one wins, since a model's last word is its answer;
/// a box inside the final-answer sentence is unwrapped.
public enum AnswerExtraction {
    /// The answer, trimmed and without a trailing period; nil if the text has
    /// neither convention or the answer is empty or unbalanced.
    public static func finalAnswer(_ text: String) -> String? {
        let s = Array(text.utf8)
        let answer: [UInt8]?
        switch (statedAnswer(in: s), lastBoxed(in: s)) {
        case let (stated?, boxed?): answer = boxed.start > stated.start ? boxed.content : stated.content
        case let (stated?, nil): answer = stated.content
        case let (nil, boxed?): answer = boxed.content
        case (nil, nil): answer = nil
        }
        guard let answer else { return nil }
        let cleaned = AnswerText.trimmed(AnswerText.trimmingTrailingPeriods(answer[...]))
        return cleaned.isEmpty ? nil : AnswerText.string(cleaned)
    }

    /// Whether the text uses either convention at all, even if no answer could be extracted
    /// (an unclosed `\boxed{`, an empty box): such text has no answer rather than being one.
    static func marksAnswer(_ text: String) -> Bool {
        let s = Array(text.utf8)
        return AnswerText.lastIndex(of: phrase, in: s, ignoringCase: true) != nil
            || boxCommands.contains { AnswerText.lastIndex(of: $0, in: s) != nil }
    }

    private static let boxCommands = [Array("\\boxed".utf8), Array("\\fbox".utf8)]
    private static let phrase = Array("final answer is".utf8)
    private static let hopeClause = Array(". i hope".utf8)

    /// The content of the last box and where the box starts.
    static func lastBoxed(in s: [UInt8]) -> (start: Int, content: [UInt8])? {
        var last: (start: Int, nameEnd: Int)?
        var i = 0
        while i < s.count {
            if s[i] == AnswerText.backslash {
                for name in boxCommands where AnswerText.hasPrefix(s, at: i, name) {
                    let end = i + name.count
                    if end >= s.count || !AnswerText.isLetter(s[end]) { last = (i, end) }
                }
            }
            i += 1
        }
        guard let last else { return nil }
        var j = last.nameEnd
        if j < s.count, s[j] == AnswerText.openBrace {
            guard let close = AnswerText.closingBrace(in: s, openingAt: j) else { return nil }
            return (last.start, Array(s[(j + 1)..<close]))
        }
        // `\boxed 5`: the argument runs to the next space or math delimiter.
        guard j < s.count, s[j] == UInt8(ascii: " ") else { return nil }
        while j < s.count, s[j] == UInt8(ascii: " ") { j += 1 }
        var end = j
        while end < s.count, !AnswerText.isSpace(s[end]), s[end] != AnswerText.dollar { end += 1 }
        return end > j ? (last.start, Array(s[j..<end])) : nil
    }

    /// The answer after the last "final answer is" and where that phrase starts.
    static func statedAnswer(in s: [UInt8]) -> (start: Int, content: [UInt8])? {
        guard let start = AnswerText.lastIndex(of: phrase, in: s, ignoringCase: true) else { return nil }
        var j = start + phrase.count
        while j < s.count, AnswerText.isSpace(s[j]) || s[j] == UInt8(ascii: ":") || s[j] == UInt8(ascii: "*") {
            j += 1
        }
        var content: [UInt8]
        if j < s.count, s[j] == AnswerText.dollar {
            var open = j
            while open < s.count, s[open] == AnswerText.dollar, open - j < 2 { open += 1 }
            var close = open
            while close < s.count, !(s[close] == AnswerText.dollar && s[close - 1] != AnswerText.backslash) { close += 1 }
            if close < s.count {
                content = Array(s[open..<close])
            } else {
                content = Array(restOfLine(s, from: open))
            }
        } else {
            content = Array(restOfLine(s, from: j))
            if let hope = AnswerText.firstIndex(of: hopeClause, in: content, ignoringCase: true) {
                content.removeSubrange(hope...)
            }
            let trimmed = AnswerText.trimmed(AnswerText.trimmingTrailingPeriods(content[...]))
            if trimmed.count >= 2, trimmed.first == AnswerText.dollar, trimmed.last == AnswerText.dollar {
                content = Array(trimmed.dropFirst().dropLast())
            } else {
                content = Array(trimmed)
            }
        }
        content = stripping(markdownBold: content)
        if let inner = lastBoxed(in: content) { content = inner.content }
        return (start, content)
    }

    private static func restOfLine(_ s: [UInt8], from j: Int) -> ArraySlice<UInt8> {
        var end = j
        while end < s.count, s[end] != AnswerText.newline { end += 1 }
        return s[j..<end]
    }

    /// "**5**" -> "5": models often bold the answer.
    private static func stripping(markdownBold content: [UInt8]) -> [UInt8] {
        let star = UInt8(ascii: "*")
        var t = AnswerText.trimmed(content[...])
        while let f = t.first, f == star { t = t.dropFirst() }
        while let l = t.last, l == star { t = t.dropLast() }
        return Array(t)
    }
}
