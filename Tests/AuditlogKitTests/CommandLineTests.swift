import AuditlogKit
import Foundation
import Testing

/// The built `auditlogctl` as a scheduler sees it: one line on standard
/// error and the documented exit code for each way a command can fail.
@Suite struct CommandLineTests {
    @Test(arguments: [
        ["run", "--max-rows", "abc"],
        ["daemon", "--interval", "0s"],
        ["sink", "frob"],
        ["sink", "add", "only-a-name"],
        ["backfill", "start", "offsite"],
        ["backfill", "cancel", "not-a-number"],
        ["status", "--no-such-flag"],
        ["no-such-command"],
    ])
    func anInvalidCommandLineIsOneLineAndExit64(arguments: [String]) throws {
        let outcome = try AuditlogCtlProcess.run(arguments)

        #expect(outcome.status == 64)
        #expect(outcome.stdout.isEmpty)
        #expect(outcome.errorLines.count == 1)
        #expect(outcome.stderr.hasPrefix("auditlogctl: "))
    }

    /// Bad input that only the database can judge: refused on one line,
    /// exit 1 (64 for what the command line itself rules out), and nothing
    /// made. Names and URLs with quotes and semicolons are refused, never
    /// run.
    @Test(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
    func badInputIsRefusedOnOneLineAndChangesNothing() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let name = "bad"
        let asker = "bad-input"
        let cases: [(arguments: [String], status: Int32)] = [
            (["sink", "add", "\(name)'; DROP TABLE auditlog.entry; --", "file:///tmp/x"], 1),
            (["sink", "add", name, "http://example.com/"], 1),
            (["sink", "add", name, "s3://x'; DROP SCHEMA auditlog; --"], 1),
            (["sink", "add", name, "file://relative/path"], 1),
            (["sink", "add", name, "file:///tmp/x", "--stream", "Bad Stream"], 1),
            (["sink", "add", name, "file:///tmp/x", "--tenant", ""], 1),
            (["sink", "enable", name], 1),
            (["sink", "remove", "\(name)'; --"], 1),
            (["backfill", "start", name, "--from", "2026-03-02", "--to", "2026-03-01"], 1),
            (["backfill", "start", name, "--from=-infinity", "--to=infinity"], 1),
            (["backfill", "start", name, "--from", "yesterday-ish", "--to", "now"], 1),
            (
                [
                    "export", "request", "--stream", "audit", "--from=-infinity", "--to=infinity", "--requested-by",
                    asker,
                ], 1
            ),
            (
                [
                    "export", "request", "--stream", "a;b", "--from", "2026-03-01", "--to", "2026-03-02",
                    "--requested-by", asker,
                ], 1
            ),
            (
                [
                    "export", "request", "--stream", "audit", "--from", "2026-03-02", "--to", "2026-03-01",
                    "--requested-by", asker,
                ], 1
            ),
            (["export", "status", "999999999"], 1),
            (["export", "cancel", "999999999"], 1),
            (["verify", name], 1),
            (["verify", name, "--from", "2026-13-45"], 64),
            (["daemon", "--listen", "not-an-address"], 64),
            (["run", "--link-expiry", "8d"], 64),
        ]
        for (arguments, status) in cases {
            let outcome = try AuditlogCtlProcess.run(arguments + ["--database", database.conninfo])

            #expect(outcome.status == status, "\(arguments): \(outcome.stderr)")
            #expect(outcome.errorLines.count == 1, "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.hasPrefix("auditlogctl: "), "\(arguments)")
        }
        let made = try await db.query(
            "SELECT (SELECT count(*) FROM auditlog.sink) + (SELECT count(*) FROM auditlog.export_job)"
        )
        .singleRow(of: "made")[0, as: Int.self]
        #expect(made == 0)
    }

    @Test func helpAndVersionPrintInFullAndSucceed() throws {
        let help = try AuditlogCtlProcess.run(["run", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE: auditlogctl run"))

        let version = try AuditlogCtlProcess.run(["--version"])
        #expect(version.status == 0 && version.stdout == Auditlog.toolVersion + "\n")
    }

    /// `version` names the edition beside the extension's release; without
    /// auditlog, a note says how to install either edition.
    @Test(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
    func versionNamesTheEdition() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }

        let installed = try AuditlogCtlProcess.run(["version", "--database", database.conninfo])
        let missing = try AuditlogCtlProcess.run(["version", "--database", try #require(TestDatabase.plain)])

        #expect(installed.status == 0 && installed.stderr == "", "\(installed.stderr)")
        #expect(
            installed.stdout
                == "auditlogctl \(Auditlog.toolVersion)\nextension \(Auditlog.toolVersion) (C edition)\n")
        #expect(missing.status == 0 && missing.stdout == "auditlogctl \(Auditlog.toolVersion)\n")
        #expect(missing.stderr == "auditlogctl: note: \(AuditlogError.extensionNotInstalled)\n")
    }

    /// Nothing listens on the port: exit 2, one line naming the server.
    @Test func anUnreachableDatabaseIsExit2() throws {
        let port = try closedPort()
        for command in [["run"], ["status"], ["sink", "list"], ["backfill", "status"]] {
            let outcome = try AuditlogCtlProcess.run(command + ["--database", "host=127.0.0.1 port=\(port) dbname=x"])

            #expect(outcome.status == 2, "\(command)")
            #expect(outcome.errorLines.count == 1, "\(command): \(outcome.stderr)")
            #expect(outcome.stderr.contains("127.0.0.1") && outcome.stderr.contains("\(port)"), "\(command)")
        }
    }

    /// A role that must give a password, given a wrong one in the URI, in
    /// PGPASSWORD and in neither: exit 2, one line, and the wrong password is
    /// never printed. (`scripts/test.sh` makes the role and the pg_hba.conf
    /// line that demands its password.)
    @Test(.enabled(if: passwordRole != nil, "set AUDITLOG_TEST_PASSWORD_ROLE to run"))
    func aWrongPasswordIsExit2AndNeverPrinted() throws {
        let plain = try #require(TestDatabase.plain)
        let role = passwordRole!
        let wrong = "not-the-Passw0rd-\(UUID().uuidString.prefix(6))"
        let cases: [(arguments: [String], environment: [String: String])] = [
            (["status", "--database", "\(plain) user=\(role) password=\(wrong)"], [:]),
            (["run", "--database", "\(plain) user=\(role)"], ["PGPASSWORD": wrong]),
            (["sink", "list", "--database", "\(plain) user=\(role)"], ["PGPASSFILE": "/nonexistent"]),
        ]
        for (arguments, environment) in cases {
            let outcome = try AuditlogCtlProcess.run(arguments, environment: environment)

            #expect(outcome.status == 2, "\(arguments)")
            #expect(outcome.errorLines.count == 1, "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.contains("password"), "\(arguments): \(outcome.stderr)")
            #expect(!outcome.stderr.contains(wrong) && !outcome.stdout.contains(wrong))
        }
    }

    /// A password in a URI that libpq cannot parse is not echoed back.
    @Test func aMalformedURIWithAPasswordIsNotEchoed() throws {
        let outcome = try AuditlogCtlProcess.run([
            "status", "--database", "postgresql://alice:s3cr3t-pw@host:notaport/db",
        ])

        #expect(outcome.status == 2)
        #expect(outcome.errorLines.count == 1)
        #expect(!outcome.stderr.contains("s3cr3t-pw"))
    }

    /// `status` needs only `auditlog_reader`: every view it reads, and
    /// every function those views call, is granted to readers.
    @Test(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
    func statusNeedsOnlyTheReaderRole() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let sink = try await ScratchSink(on: db)
        let reader = try await ScratchRole(in: "auditlog_reader", for: database)
        defer {
            sink.remove()
            reader.remove()
        }

        let outcome = try AuditlogCtlProcess.run(["status", "--json", "--database", reader.conninfo])

        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("\"\(sink.name)\""))
    }

    /// `run`, `backfill` and `verify` need only `auditlog_admin`, not a
    /// superuser: every table they read is granted.
    @Test(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
    func runAndVerifyNeedOnlyTheAdminRole() async throws {
        let database = try await ScratchDatabase()
        defer { database.drop() }
        let db = try await database.connect()
        let sink = try await ScratchSink(on: db)
        let admin = try await ScratchRole(in: "auditlog_admin", for: database)
        defer {
            sink.remove()
            admin.remove()
        }
        let ids = try await sink.record(3, on: db)

        let run = try AuditlogCtlProcess.run([
            "run", "--database", admin.conninfo, "--sink", sink.name, "--retain", "100 years",
        ])
        let verify = try AuditlogCtlProcess.run(["verify", sink.name, "--database", admin.conninfo])

        #expect(run.status == 0, "\(run.stderr)")
        #expect(try sink.exportedIDs().sorted() == ids.sorted() && sink.directory.files().count == 1)
        #expect(verify.status == 0, "\(verify.stderr)")
    }

    /// A port nobody listens on: bound, then closed.
    private func closedPort() throws -> Int {
        Int(
            try Python.run(
                """
                import socket
                s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()
                """
            ).trimmingCharacters(in: .whitespacesAndNewlines))!
    }
}

/// `AUDITLOG_TEST_PASSWORD_ROLE`: a role of the test cluster that must give
/// its password over TCP.
private let passwordRole = ProcessInfo.processInfo.environment["AUDITLOG_TEST_PASSWORD_ROLE"]
