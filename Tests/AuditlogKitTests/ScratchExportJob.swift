import AuditlogKit
import Foundation
import Testing

/// A stream for one export job test (`t<8 hex>`), in the test's
/// ``ScratchDatabase``, and a temporary directory for the exported objects.
struct ScratchExportJob {
    let stream: String
    let directory: TemporaryDirectory

    init() throws {
        stream = "t" + UUID().uuidString.prefix(8).lowercased()
        directory = try TemporaryDirectory()
    }

    /// The `file://` URL of ``directory``.
    var url: String {
        "file://\(directory.path)"
    }

    /// A pass that drains no sink and exports jobs to `url` (default:
    /// ``url``) through `openStorage`.
    func runner(
        maxRows: Int,
        url: String? = nil,
        openStorage: @escaping @Sendable (String) throws -> any ObjectStorage = { try StorageURL.storage(for: $0) }
    ) -> PassRunner {
        PassRunner(
            retain: "100 years", maxRows: maxRows, sinks: [], exportURL: url ?? self.url,
            openStorage: openStorage)
    }

    /// Records entries in the stream, one per `actorIDs` element, and
    /// returns their ids.
    func record(actorIDs: [String?], tenantID: String? = nil, on db: PostgresConnection) async throws -> [String] {
        var ids: [String] = []
        for (index, actor) in actorIDs.enumerated() {
            ids.append(
                try await db.query(
                    "SELECT auditlog.record(operation => $1, stream => $2, actor_id => $3, tenant_id => $4)",
                    ["exportjob.\(index)", stream, actor, tenantID]
                ).singleRow(of: "auditlog.record")[0, as: String.self])
        }
        return ids
    }

    /// Requests a job for a window around what `write` records, once the
    /// settled horizon has passed it (open transactions of other tests, in
    /// any database of the cluster, hold the horizon back, so this ticks
    /// until it has).
    func requestJob(
        format: String = "ndjson.gz",
        tenantID: String? = nil,
        on db: PostgresConnection,
        writing write: () async throws -> [String]
    ) async throws -> (id: Int64, ids: [String]) {
        try await db.query("SELECT auditlog.ensure_partitions()")
        let from = try await db.query("SELECT clock_timestamp()::text").singleRow(of: "clock_timestamp")[
            0, as: String.self]
        let ids = try await write()
        var to = ""
        for _ in 0..<200 {
            try await db.query("SELECT auditlog.tick()")
            let horizon = try await db.query(
                """
                SELECT auditlog.settled_horizon()::text,
                       auditlog.settled_horizon() > greatest($2::timestamptz,
                         (SELECT max(logged_at) FROM auditlog.entry WHERE id = ANY ($1::uuid[])))
                """, ["{\(ids.joined(separator: ","))}", from]
            ).singleRow(of: "settled_horizon")
            to = try horizon[0, as: String.self]
            if try horizon[1, as: Bool.self] { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let id = try await ExportJobStatus.request(
            stream: stream, from: from, to: to, tenantID: tenantID,
            requestedBy: "swift-test", format: format, on: db)
        return (id, ids)
    }

    /// The ids of the stream's entries in the window's order.
    func orderedIDs(on db: PostgresConnection) async throws -> [String] {
        try await db.query("SELECT id FROM auditlog.entry WHERE stream = $1 ORDER BY logged_at, id", [stream])
            .rows.map { try $0[0, as: String.self] }
    }

    /// The path of a `file://` object URL relative to ``directory``.
    func relativePath(of objectURL: String?) throws -> String {
        let url = try #require(objectURL)
        let prefix = "file://\(directory.path)/"
        try #require(url.hasPrefix(prefix))
        return String(url.dropFirst(prefix.count))
    }

    /// The ids in an exported `ndjson.gz` file, in order: gunzipped by
    /// Python, which reads concatenated gzip members as one stream.
    func exportedIDs(inGzip relative: String) throws -> [String] {
        try Python.run(
            """
            import gzip, json, sys
            for line in gzip.decompress(open(sys.stdin.read(), 'rb').read()).splitlines():
                print(json.loads(line)['id'])
            """, input: directory.path + "/" + relative
        ).split(separator: "\n").map(String.init)
    }

    /// Deletes the directory. (The job goes with its database.)
    func remove() {
        directory.remove()
    }
}

/// A storage that passes everything on to `base`, calling `beforePut` or
/// `beforeConcatenate` first, which may throw to make the call fail.
struct InterceptingStorage: ObjectStorage {
    let base: any ObjectStorage
    var beforeConcatenate: @Sendable () async throws -> Void = {}
    let beforePut: @Sendable (String) async throws -> Void

    func put(key: String, data: [UInt8]) async throws {
        try await beforePut(key)
        try await base.put(key: key, data: data)
    }

    func get(key: String) async throws -> [UInt8]? {
        try await base.get(key: key)
    }

    func list(prefix: String) async throws -> [String] {
        try await base.list(prefix: prefix)
    }

    func delete(key: String) async throws {
        try await base.delete(key: key)
    }

    func concatenate(
        _ parts: [String],
        into key: String,
        afterEachPart: () async throws -> Void
    ) async throws -> ObjectDigest {
        try await beforeConcatenate()
        return try await base.concatenate(parts, into: key, afterEachPart: afterEachPart)
    }

    func downloadLink(key: String, expires: Int, date: Date) throws -> String? {
        try base.downloadLink(key: key, expires: expires, date: date)
    }
}

/// Counts calls across tasks.
actor CallCounter {
    private(set) var count = 0

    /// Counts a call and returns its number, from 1.
    func next() -> Int {
        count += 1
        return count
    }
}
