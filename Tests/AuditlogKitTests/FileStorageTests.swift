import Foundation
import Testing

@testable import AuditlogKit

@Suite struct FileStorageTests {
    @Test func putCreatesDirectoriesAndGetReadsBack() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let storage = FileStorage(root: directory.path + "/exports/")
        let key = "audit/dt=2026-11-23/main-01a2.ndjson.gz"

        try await storage.put(key: key, data: [1, 2, 3])

        #expect(try directory.files() == ["exports/" + key])
        #expect(try await storage.get(key: key) == [1, 2, 3])
        #expect(try await storage.get(key: "audit/missing.ndjson.gz") == nil)
    }

    @Test func putReplacesAnObjectAndLeavesNoTemporaryFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let storage = FileStorage(root: directory.path)

        try await storage.put(key: "a/b", data: Array(repeating: 7, count: 100_000))
        try await storage.put(key: "a/b", data: [1])

        #expect(try directory.files() == ["a/b"])
        #expect(try await storage.get(key: "a/b") == [1])
    }

    @Test func failedPutLeavesNoTemporaryFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try FileManager.default.createDirectory(
            atPath: directory.path + "/a/taken/inside", withIntermediateDirectories: true)
        let storage = FileStorage(root: directory.path)

        await #expect(throws: StorageError.self) { try await storage.put(key: "a/taken", data: [1]) }

        #expect(try directory.files().isEmpty)
    }

    @Test(arguments: ["", "/etc/passwd", "../escape", "a/../../escape", "a/..", "./a", "a//b", "a/"])
    func rejectsKeysThatCouldEscapeTheRoot(key: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let storage = FileStorage(root: directory.path + "/root")

        await #expect(throws: StorageError.invalidKey(key)) { try await storage.put(key: key, data: [1]) }
        await #expect(throws: StorageError.invalidKey(key)) { try await storage.get(key: key) }
        #expect(try directory.files().isEmpty)
    }

    @Test func fileURLsOpenAFileStorage() throws {
        let storage = try #require(try StorageURL.storage(for: "file:///var/lib/audit%20log/exports") as? FileStorage)
        #expect(storage.root == "/var/lib/audit log/exports")
    }

    @Test func gcsIsNotSupportedYet() {
        #expect(throws: StorageError.schemeNotSupportedYet("gs")) { try StorageURL.storage(for: "gs://bucket/prefix") }
        #expect(
            StorageError.schemeNotSupportedYet("gs").description
                == "gs:// storage is not supported yet by this build of auditlogctl"
        )
    }

    @Test(arguments: ["https://example.com/x", "file://host/path", "file:relative", "/plain/path"])
    func otherURLsAreRejected(url: String) {
        #expect(throws: StorageError.unsupportedURL(url)) { try StorageURL.storage(for: url) }
    }
}
