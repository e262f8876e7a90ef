import XCTest
import SCoReRuntime
final class VersionTests: XCTestCase {
    func testVersion() { XCTAssertEqual(LibraryVersion.string.split(separator: ".").count, 3) }
}
