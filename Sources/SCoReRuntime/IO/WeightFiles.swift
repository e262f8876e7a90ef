/// The safetensors files of a model directory, with one name -> tensor map:
/// either `model.safetensors`, or the shards named by
/// `model.safetensors.index.json`'s `weight_map`. The index and the shards
/// must agree exactly: each tensor named once in the map, found in the shard
/// the map names and in no other; a shard holding a tensor the map does not
/// list is inconsistent.
public final class WeightFiles: @unchecked Sendable {
    public let files: [SafetensorsFile]
    private let location: [String: (file: Int, entry: SafetensorsEntry)]

    public init(directory dir: String, mapped: Bool = true) throws {
        let single = Files.join(dir, "model.safetensors")
        let index = Files.join(dir, "model.safetensors.index.json")
        if Files.exists(index) {
            let json = try Files.readJSON(index, rejectingDuplicateKeys: true)
            guard let map = json["weight_map"]?.objectValue else {
                throw ScoreError.format("\(index): missing 'weight_map' object")
            }
            var shardNames: [String] = []
            var shardOf: [String: String] = [:]
            for name in map.keys {
                guard let shard = map[name]?.stringValue, !shard.isEmpty, !shard.contains("/") else {
                    throw ScoreError.format("\(index): weight_map entry for '\(name)' is not a file name")
                }
                if !shardNames.contains(shard) { shardNames.append(shard) }
                shardOf[name] = shard
            }
            var files: [SafetensorsFile] = []
            var location: [String: (Int, SafetensorsEntry)] = [:]
            for shard in shardNames {
                let path = Files.join(dir, shard)
                guard Files.exists(path) else { throw ScoreError.io("\(path): shard listed in \(index) is missing") }
                let file = try SafetensorsFile(path: path, mapped: mapped)
                files.append(file)
                for (name, entry) in file.entries {
                    if let (other, _) = location[name] {
                        throw ScoreError.format("\(index): tensor '\(name)' is in both \(files[other].path) and \(path)")
                    }
                    guard shardOf[name] == shard else {
                        let listed = shardOf[name].map { "lists it in \($0)" } ?? "does not list it"
                        throw ScoreError.format("\(path) holds tensor '\(name)' but \(index) \(listed)")
                    }
                    location[name] = (files.count - 1, entry)
                }
            }
            for name in map.keys {
                guard let (fileIndex, _) = location[name], files[fileIndex].path == Files.join(dir, shardOf[name]!) else {
                    throw ScoreError.format("\(index): tensor '\(name)' is not in \(shardOf[name]!)")
                }
            }
            self.files = files
            self.location = location
        } else if Files.exists(single) {
            let file = try SafetensorsFile(path: single, mapped: mapped)
            files = [file]
            var location: [String: (Int, SafetensorsEntry)] = [:]
            for (name, entry) in file.entries { location[name] = (0, entry) }
            self.location = location
        } else {
            throw ScoreError.io("\(dir): no model.safetensors or model.safetensors.index.json")
        }
    }

    public var names: [String] { Array(location.keys) }

    public func entry(_ name: String) -> (file: SafetensorsFile, entry: SafetensorsEntry)? {
        guard let (i, e) = location[name] else { return nil }
        return (files[i], e)
    }
}
