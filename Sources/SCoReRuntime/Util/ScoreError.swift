/// Every failure the runtime reports. The C layer maps each case to a
/// `score_status` code and the message to `score_last_error()`.
public enum ScoreError: Error, CustomStringConvertible, Equatable {
    /// A caller passed a value outside the accepted range.
    case invalidArgument(String)
    /// A file could not be opened, read, mapped or written.
    case io(String)
    /// Input exists but is malformed (JSON, safetensors, shapes, offsets).
    case format(String)
    /// Input is well formed but asks for something we do not implement.
    case unsupported(String)
    case outOfMemory(String)
    case aborted(String)
    case `internal`(String)

    public var message: String {
        switch self {
        case .invalidArgument(let m), .io(let m), .format(let m), .unsupported(let m),
             .outOfMemory(let m), .aborted(let m), .internal(let m):
            return m
        }
    }

    /// The status code of `score.h` (`SCORE_ERR_*`).
    public var statusCode: Int32 {
        switch self {
        case .invalidArgument: return 1
        case .io: return 2
        case .format: return 3
        case .unsupported: return 4
        case .outOfMemory: return 5
        case .aborted: return 7
        case .internal: return 8
        }
    }

    public var description: String { message }
}
