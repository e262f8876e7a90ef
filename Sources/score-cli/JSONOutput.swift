import SCoReRuntime

// Every JSON object the CLI prints (--json, metrics logs) is built as a JSON
// value and serialized, so it is always valid JSON: NaN and infinities have
// no JSON spelling and are written as null (JSON.number).

/// Prints one JSON object on one line, `{"key": value, ...}`.
func printJSON(_ pairs: [(String, JSON)]) throws {
    print(try JSON.object(pairs).serializedLine())
}

func jsonInt<T: BinaryInteger>(_ value: T) -> JSON { .int(Int64(value)) }
func jsonInts<T: BinaryInteger>(_ values: [T]) -> JSON { .array(values.map { .int(Int64($0)) }) }
func jsonNumbers(_ values: [Float]) -> JSON { .array(values.map { JSON.number($0) }) }
