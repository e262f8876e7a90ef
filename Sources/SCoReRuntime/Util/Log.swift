#if canImport(Glibc)
import Glibc
#endif

/// Severity of a log line; raw values match `SCORE_LOG_*`.
public enum LogLevel: Int32, Sendable, Comparable {
    case error = 0, warn = 1, info = 2, debug = 3
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Process-wide log sink. Lines are delivered whole, one at a time, under a
/// lock, so a host callback never sees interleaved fragments.
public enum Log {
    public typealias Sink = @Sendable (LogLevel, String) -> Void

    /// The sink behind a pthread mutex rather than Swift's Mutex, whose
    /// synchronisation ThreadSanitizer cannot see (it lives in the
    /// uninstrumented static runtime).
    private final class State: @unchecked Sendable {
        var mutex = pthread_mutex_t()
        var sink: Sink?
        init() { pthread_mutex_init(&mutex, nil) }

        func withLock<T>(_ body: (inout Sink?) -> T) -> T {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            return body(&sink)
        }
    }

    private static let state = State()

    /// Replaces the sink; `nil` restores the default (warnings and errors to stderr).
    public static func setSink(_ sink: Sink?) {
        state.withLock { $0 = sink }
    }

    public static func write(_ level: LogLevel, _ line: @autoclosure () -> String) {
        state.withLock { sink in
            if let sink {
                sink(level, line())
            } else if level <= .warn {
                var text = "libscore: " + line() + "\n"
                text.withUTF8 { bytes in _ = fwriteStderr(bytes) }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
private func fwriteStderr(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    write(2, bytes.baseAddress, bytes.count)
}
#endif
