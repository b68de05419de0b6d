import AuditlogKit
import Foundation
import Testing

extension ExportJobTests {
    @Test func exportRequestRefusesAnEmptyWindowOnOneLine() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }

        let run = try Auditlogctl.run(
            [
                "export", "request", "--stream", "audit", "--from", "2026-03-01",
                "--to", "2026-03-01", "--requested-by", "alice",
            ], on: database)

        #expect(run.status == 1 && run.stdout == "")
        #expect(run.stderr == "auditlogctl: the window needs \"from\" before \"to\" (SQLSTATE 22023)\n")
    }

    @Test func exportRequestRefusesAnUnknownFormatOnOneLine() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let window = try await Self.settledWindow(on: database.connect())

        let run = try Auditlogctl.run(
            [
                "export", "request", "--stream", "audit", "--from", window.from,
                "--to", window.to, "--requested-by", "alice", "--format", "xml",
            ], on: database)

        #expect(run.status == 1 && run.stdout == "")
        #expect(
            run.stderr == "auditlogctl: unsupported export format 'xml' (SQLSTATE 22023); hint: Use ndjson.gz or csv.\n"
        )
    }

    @Test func exportRequestStatusAndCancel() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let stream = "cli"
        let window = try await Self.settledWindow(on: db)

        let requested = try Auditlogctl.run(
            [
                "export", "request", "--stream", stream, "--from", window.from,
                "--to", window.to, "--tenant", "acme", "--requested-by", "alice",
                "--format", "csv",
            ], on: database)

        #expect(requested.status == 0 && requested.stderr == "")
        let id = try #require(requested.stdout.firstMatch(of: /^requested export job (\d+);/).flatMap { Int64($0.1) })
        let shown = try Auditlogctl.run(["export", "status", String(id)], on: database)
        #expect(shown.status == 0)
        #expect(shown.stdout.hasPrefix("export job \(id)\n") && shown.stdout.contains("  status        pending\n"))
        #expect(shown.stdout.contains("  tenant        acme\n") && shown.stdout.contains("  requested by  alice at "))
        let json = try Auditlogctl.run(["export", "status", String(id), "--json"], on: database)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let decoded = try decoder.decode(ExportJobStatus.self, from: Data(json.stdout.utf8))
        #expect(decoded.id == id && decoded.stream == stream && decoded.format == "csv" && decoded.tenantID == "acme")
        let table = try Auditlogctl.run(["export", "status"], on: database)
        #expect(table.stdout.split(separator: "\n").filter { $0.contains(stream) && $0.contains("pending") }.count == 1)

        let cancelled = try Auditlogctl.run(["export", "cancel", String(id)], on: database)
        let again = try Auditlogctl.run(["export", "cancel", String(id)], on: database)

        #expect(
            cancelled.stdout == "cancelled export job \(id)\n" && again.stdout == "export job \(id) had ended already\n"
        )
        #expect(try await ExportJobStatus.fetch(id, from: db).status == "cancelled")
        let missing = try Auditlogctl.run(["export", "status", "999999999"], on: database)
        #expect(missing.status == 1 && missing.stderr == "auditlogctl: export job 999999999 does not exist\n")
    }

    @Test(arguments: ["200h", "1d", "500ms"])
    func runRefusesALinkExpiryOutOfRange(expiry: String) throws {
        let run = try Auditlogctl.run(["run", "--export-url", "file:///nonexistent", "--link-expiry", expiry])

        #expect(run.status == 64 && run.stdout == "")
        #expect(
            run.stderr.contains(
                "--link-expiry takes a duration from 1s to 168h (7 days), such as 30m or 24h, not '\(expiry)'"))
    }

    /// A window that request_export accepts: from the oldest partition to
    /// the settled horizon.
    private static func settledWindow(on db: PostgresConnection) async throws -> (from: String, to: String) {
        try await db.query("SELECT auditlog.tick()")
        let row = try await db.query(
            "SELECT (SELECT min(range_start) FROM auditlog.partitions)::text, auditlog.settled_horizon()::text"
        )
        .singleRow(of: "window")
        return (try row[0, as: String.self], try row[1, as: String.self])
    }
}

/// The built `auditlogctl`, run against a test's database.
enum Auditlogctl {
    /// Runs `auditlogctl <arguments>`, with `--database` naming `database`
    /// if given.
    static func run(_ arguments: [String], on database: ScratchDatabase? = nil) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments + (database.map { ["--database", $0.conninfo] } ?? [])
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self)
        )
    }

    /// Next to the test bundle, or in the package's `.build/debug`.
    private static func executable() throws -> URL {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL,
            Bundle.main.bundleURL.deletingLastPathComponent(),
            packageRoot.appendingPathComponent(".build/debug"),
        ].map { $0.appendingPathComponent("auditlogctl") }
        return try #require(
            candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
            "build auditlogctl first: swift build --build-tests")
    }
}
