import CScoreABI
import SCoReRuntime

// How Swift meets C: every exported function runs its body through
// `boundary`, which turns thrown errors into a status code and a message in
// score_last_error(). Nothing here may trap on bad input.

func setLastError(_ message: String) {
    message.withCString { scoreabi_set_last_error($0) }
}

func fail(_ status: Int32, _ message: String) -> score_status {
    setLastError(message)
    return status
}

func boundary(_ function: String, _ body: () throws -> Void) -> score_status {
    do {
        try body()
        return Int32(SCORE_OK)
    } catch let e as ScoreError {
        return fail(e.statusCode, "\(function): \(e.message)")
    } catch {
        return fail(Int32(SCORE_ERR_INTERNAL), "\(function): \(error)")
    }
}

/// Copies the first `size` bytes of `value` into `destination` (for structs
/// whose caller knows an older, shorter layout).
func copyPrefix<T>(of value: T, into destination: UnsafeMutablePointer<T>, size: Int) {
    withUnsafeBytes(of: value) { src in
        UnsafeMutableRawPointer(destination).copyMemory(from: src.baseAddress!, byteCount: min(size, src.count))
    }
}

/// Reads a caller's params struct of `struct_size` bytes over our defaults:
/// fields the caller does not know keep their default values.
func readParams<T>(_ pointer: UnsafePointer<T>?, defaults: T, structSize: (T) -> UInt32, function: String) throws -> T {
    guard let pointer else { return defaults }
    let size = Int(UnsafeRawPointer(pointer).load(as: UInt32.self))
    guard size >= MemoryLayout<UInt32>.size, size <= 1 << 16 else {
        throw ScoreError.invalidArgument("params struct_size \(size) is invalid (expected \(MemoryLayout<T>.size))")
    }
    var result = defaults
    withUnsafeMutableBytes(of: &result) { dst in
        dst.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: min(size, dst.count)))
    }
    return result
}

/// The model behind a handle. Handles are retained Swift objects.
final class ModelBox {
    let model: Model
    init(_ model: Model) { self.model = model }
}

func unbox(_ handle: OpaquePointer?) throws -> Model {
    guard let handle else { throw ScoreError.invalidArgument("model is NULL") }
    return Unmanaged<ModelBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue().model
}

/// Checks a caller buffer (buf, cap, needed) against `required` elements.
/// Returns false for a size query (NULL, 0): the caller stops there with OK.
func checkBuffer<T>(_ buffer: UnsafeMutablePointer<T>?, capacity: Int, required: Int,
                    needed: UnsafeMutablePointer<Int>?, what: String) throws -> Bool {
    needed?.pointee = required
    if buffer == nil && capacity == 0 { return false }
    if capacity < required {
        throw BufferTooSmall(message: "\(what) needs \(required) elements, the buffer holds \(capacity)")
    }
    if required > 0 && buffer == nil { throw ScoreError.invalidArgument("\(what) buffer is NULL") }
    return true
}

struct BufferTooSmall: Error { let message: String }

func bufferBoundary(_ function: String, _ body: () throws -> Void) -> score_status {
    do {
        try body()
        return Int32(SCORE_OK)
    } catch let e as BufferTooSmall {
        return fail(Int32(SCORE_ERR_BUFFER_TOO_SMALL), "\(function): \(e.message)")
    } catch let e as ScoreError {
        return fail(e.statusCode, "\(function): \(e.message)")
    } catch {
        return fail(Int32(SCORE_ERR_INTERNAL), "\(function): \(error)")
    }
}

extension String {
    /// A C string argument, or an error naming it when NULL or not UTF-8.
    init(argument: UnsafePointer<CChar>?, name: String) throws {
        guard let argument else { throw ScoreError.invalidArgument("\(name) is NULL") }
        guard let s = String(validatingCString: argument) else { throw ScoreError.invalidArgument("\(name) is not valid UTF-8") }
        self = s
    }
}
