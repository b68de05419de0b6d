import AuditlogKit
import Foundation
import Testing

/// A sink made for one test, in the test's ``ScratchDatabase``: a name and
/// an operation prefix of its own, so that two sinks of one test each get
/// only their own entries, and a temporary directory for its objects.
struct ScratchSink {
    let name: String
    let operationPrefix: String
    let directory: TemporaryDirectory

    /// Creates the sink; call ``remove()`` when done.
    init(on db: PostgresConnection) async throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        name = "swift-test-\(suffix)"
        operationPrefix = "swifttest.\(suffix)."
        directory = try TemporaryDirectory()
        try await SinkDefinition(name: name, url: url, operationPrefix: operationPrefix).create(on: db)
    }

    /// The sink's URL.
    var url: String {
        "file://\(directory.path)"
    }

    /// A runner that drains only this sink and drops no partitions.
    func runner(maxRows: Int = 2) -> PassRunner {
        PassRunner(retain: "100 years", maxRows: maxRows, sinks: [name])
    }

    /// Records `count` entries for this sink and returns their ids.
    func record(_ count: Int, on db: PostgresConnection) async throws -> [String] {
        var ids: [String] = []
        for index in 0..<count {
            ids.append(
                try await db.query("SELECT auditlog.record(operation => $1)", ["\(operationPrefix)\(index)"])
                    .singleRow(of: "auditlog.record")[0, as: String.self])
        }
        return ids
    }

    /// The keys of the pages the sink has acknowledged.
    func ackedObjectKeys(on db: PostgresConnection) async throws -> [String] {
        try await db.query(
            "SELECT object_key FROM auditlog.page WHERE sink = $1 AND acked_at IS NOT NULL ORDER BY object_key",
            [name]
        ).rows.map { try $0[0, as: String.self] }
    }

    /// The ids in the given objects of the sink's directory (every one by
    /// default), in file order, with repeats.
    func exportedIDs(in files: [String]? = nil) throws -> [String] {
        try (files ?? directory.files()).flatMap { file in
            let body = try Gzip.decompress(directory.contents(of: file))
            return try body.split(separator: UInt8(ascii: "\n")).map {
                try JSONDecoder().decode(ExportedEntry.self, from: Data($0)).id
            }
        }
    }

    /// Deletes the sink's directory. (The sink goes with its database.)
    func remove() {
        directory.remove()
    }

    private struct ExportedEntry: Decodable {
        let id: String
    }
}
