import AuditlogKit
import Foundation
import Testing

@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct SinkDefinitionTests {
    @Test func createDisableEnableAndRemove() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let name = "swift-test"
        let sink = SinkDefinition(
            name: name, url: "file:///tmp/\(name)", stream: "scim", tenantID: "t1", enabled: false)
        try await sink.create(on: db)

        let row = try await db.query(
            "SELECT url, stream, tenant_id, operation_prefix, enabled FROM auditlog.sink WHERE name = $1",
            [name]
        ).singleRow(of: "auditlog.sink")
        #expect(row.values == [sink.url, "scim", "t1", nil, "f"])
        #expect(try await SinkStatus.fetchAll(from: db).map { [$0.name: $0.enabled] } == [[name: false]])

        #expect(try await SinkDefinition.enable(name, on: db))
        #expect(try await !SinkDefinition.enable(name, on: db))
        #expect(try await SinkStatus.fetchAll(from: db).map { [$0.name: $0.enabled] } == [[name: true]])
        #expect(try await SinkDefinition.disable(name, on: db))
        #expect(try await !SinkDefinition.disable(name, on: db))

        try await SinkDefinition.remove(name, on: db)
        #expect(try await SinkStatus.fetchAll(from: db).isEmpty)
        let error = await #expect(throws: PostgresError.self) { try await SinkDefinition.remove(name, on: db) }
        #expect(error?.sqlState == "42704")
    }

    @Test func invalidDefinitionsAreRejectedByTheDatabase() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let duplicate = "swift-test"
        try await SinkDefinition(name: duplicate, url: "file:///tmp/\(duplicate)").create(on: db)

        let taken = await #expect(throws: PostgresError.self) {
            try await SinkDefinition(name: duplicate, url: "file:///tmp/other").create(on: db)
        }
        #expect(taken?.sqlState == "42710")
        let badName = await #expect(throws: PostgresError.self) {
            try await SinkDefinition(name: "Bad/Name", url: "file:///tmp/x").create(on: db)
        }
        #expect(badName?.kind == .server)
        let badURL = await #expect(throws: PostgresError.self) {
            try await SinkDefinition(name: "\(duplicate)-x", url: "ftp://host/x").create(on: db)
        }
        #expect(badURL?.sqlState == "22023")
    }
}
