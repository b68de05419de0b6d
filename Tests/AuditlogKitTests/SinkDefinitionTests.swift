import AuditlogKit
import Foundation
import Testing

@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct SinkDefinitionTests {
    @Test func createDisableEnableAndRemove() throws {
        let database = try ScratchDatabase()
        defer { database.drop() }
        let db = try database.connect()
        let name = "swift-test"
        let sink = SinkDefinition(name: name, url: "file:///tmp/\(name)", stream: "scim", tenantID: "t1", enabled: false)
        try sink.create(on: db)

        let row = try db.query(
            "SELECT url, stream, tenant_id, operation_prefix, enabled FROM auditlog.sink WHERE name = $1",
            [name]
        ).singleRow(of: "auditlog.sink")
        #expect(row.values == [sink.url, "scim", "t1", nil, "f"])
        #expect(try SinkStatus.fetchAll(from: db).map { [$0.name: $0.enabled] } == [[name: false]])

        #expect(try SinkDefinition.enable(name, on: db))
        #expect(try !SinkDefinition.enable(name, on: db))
        #expect(try SinkStatus.fetchAll(from: db).map { [$0.name: $0.enabled] } == [[name: true]])
        #expect(try SinkDefinition.disable(name, on: db))
        #expect(try !SinkDefinition.disable(name, on: db))

        try SinkDefinition.remove(name, on: db)
        #expect(try SinkStatus.fetchAll(from: db).isEmpty)
        let error = #expect(throws: PostgresError.self) { try SinkDefinition.remove(name, on: db) }
        #expect(error?.sqlState == "42704")
    }

    @Test func invalidDefinitionsAreRejectedByTheDatabase() throws {
        let database = try ScratchDatabase()
        defer { database.drop() }
        let db = try database.connect()
        let duplicate = "swift-test"
        try SinkDefinition(name: duplicate, url: "file:///tmp/\(duplicate)").create(on: db)

        let taken = #expect(throws: PostgresError.self) {
            try SinkDefinition(name: duplicate, url: "file:///tmp/other").create(on: db)
        }
        #expect(taken?.sqlState == "42710")
        let badName = #expect(throws: PostgresError.self) {
            try SinkDefinition(name: "Bad/Name", url: "file:///tmp/x").create(on: db)
        }
        #expect(badName?.kind == .server)
        let badURL = #expect(throws: PostgresError.self) {
            try SinkDefinition(name: "\(duplicate)-x", url: "ftp://host/x").create(on: db)
        }
        #expect(badURL?.sqlState == "22023")
    }
}
