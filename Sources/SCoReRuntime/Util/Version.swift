/// The library's version, reported by `score_version_string` and the CLI.
public enum LibraryVersion {
    public static let string = "0.1.0"
}
