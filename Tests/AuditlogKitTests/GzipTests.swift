import AuditlogKit
import Foundation
import Testing

@Suite struct GzipTests {
    /// `count` bytes: NDJSON lines for the first half, then pseudo-random
    /// bytes, which do not compress.
    static func sample(count: Int) -> [UInt8] {
        let lines = (0...).lazy.map { #"{"id":"\#($0)","operation":"project.create"}"# + "\n" }.flatMap(\.utf8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<count - count / 2).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        return Array(lines.prefix(count / 2)) + noise
    }

    static let large = sample(count: 1 << 20)

    @Test(arguments: [0, 1, 100, 1 << 20])
    func roundTrips(count: Int) throws {
        let data = Self.sample(count: count)
        #expect(try Gzip.decompress(Gzip.compress(data)) == data)
    }

    @Test func startsWithTheGzipMagicAndDeflateMethod() throws {
        let compressed = try Gzip.compress(Array("hello".utf8))
        #expect(Array(compressed.prefix(3)) == [0x1f, 0x8b, 0x08])
    }

    @Test func sameInputGivesTheSameBytes() throws {
        #expect(try Gzip.compress(Self.large) == Gzip.compress(Self.large))
    }

    @Test(arguments: [0, 1, 9])
    func everyLevelRoundTrips(level: Int) throws {
        #expect(try Gzip.decompress(Gzip.compress(Self.large, level: level)) == Self.large)
    }

    @Test func rejectsALevelOutOfRange() {
        #expect(throws: Gzip.ZlibError.self) { try Gzip.compress([1, 2, 3], level: 10) }
    }

    @Test func gzipCommandReadsTheOutput() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.path + "/page.ndjson.gz"
        try Data(Gzip.compress(Self.large)).write(to: URL(fileURLWithPath: file))

        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "-dc", file]
        let output = Pipe()
        gzip.standardOutput = output
        try gzip.run()
        let decompressed = output.fileHandleForReading.readDataToEndOfFile()
        gzip.waitUntilExit()
        #expect(gzip.terminationStatus == 0)
        #expect([UInt8](decompressed) == Self.large)
    }

    @Test func rejectsTruncatedInput() throws {
        let compressed = try Gzip.compress(Self.large)
        let error = #expect(throws: Gzip.ZlibError.self) { try Gzip.decompress(Array(compressed.dropLast(100))) }
        #expect(error?.description == "gzip: the gzip stream is truncated")
    }

    @Test func rejectsDataAfterTheStream() throws {
        let compressed = try Gzip.compress(Array("hello".utf8))
        #expect(throws: Gzip.ZlibError.self) { try Gzip.decompress(compressed + [0]) }
    }

    @Test func rejectsDataThatIsNotGzip() {
        #expect(throws: Gzip.ZlibError.self) { try Gzip.decompress(Array("plain text".utf8)) }
    }
}
