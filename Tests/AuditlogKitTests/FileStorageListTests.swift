import Foundation
import Testing

@testable import AuditlogKit

@Suite struct FileStorageListTests {
    @Test func listsNestedKeysUnderThePrefixSortedWithoutTemporaries() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let storage = FileStorage(root: directory.path + "/exports")
        let keys = [
            "audit/dt=2026-11-24/b.ndjson.gz", "audit/dt=2026-11-23/z.ndjson.gz", "audit/dt=2026-11-23/a.ndjson.gz",
            "audit/dt=2026-11-23/deeper/c.ndjson.gz", "auditx/dt=2026-11-23/d.ndjson.gz", "other/e.ndjson.gz",
        ]
        for key in keys {
            try await storage.put(key: key, data: [1])
        }
        // A put that died midway leaves its temporary behind.
        try Data([2]).write(
            to: URL(fileURLWithPath: directory.path + "/exports/audit/dt=2026-11-23/.a.ndjson.gz.0A1B.tmp"))

        #expect(
            try await storage.list(prefix: "audit/dt=") == [
                "audit/dt=2026-11-23/a.ndjson.gz", "audit/dt=2026-11-23/deeper/c.ndjson.gz",
                "audit/dt=2026-11-23/z.ndjson.gz", "audit/dt=2026-11-24/b.ndjson.gz",
            ])
        #expect(try await storage.list(prefix: "audit/dt=2026-11-24/") == ["audit/dt=2026-11-24/b.ndjson.gz"])
        #expect(try await storage.list(prefix: "audit") == keys.filter { $0.hasPrefix("audit") }.sorted())
        #expect(try await storage.list(prefix: "") == keys.sorted())
        #expect(try await storage.list(prefix: "audit/dt=2026-11-25/").isEmpty)
    }

    @Test func anEmptyOrMissingRootListsNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }

        #expect(try await FileStorage(root: directory.path).list(prefix: "") == [])
        #expect(try await FileStorage(root: directory.path).list(prefix: "audit/dt=") == [])
        #expect(try await FileStorage(root: directory.path + "/missing").list(prefix: "") == [])
        #expect(try await FileStorage(root: directory.path + "/missing").list(prefix: "audit/") == [])
    }

    @Test func aPrefixThatCouldLeaveTheRootIsRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }

        await #expect(throws: StorageError.invalidKey("../x")) {
            try await FileStorage(root: directory.path).list(prefix: "../x/")
        }
    }
}
