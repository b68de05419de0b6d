import AuditlogKit
import Foundation
import Testing

@Suite struct PostgresConnectionTests {
    @Test(arguments: [
        "host=127.0.0.1 port=1 user=auditor password=s3cret-pw connect_timeout=5",
        "postgresql://auditor:s3cret-pw@127.0.0.1:1/app?connect_timeout=5",
        "host=127.0.0.1 no_such_option=s3cret-pw",
        "postgresql://auditor:s3cret-pw@[::1",
    ])
    func badConninfoIsAConnectionError(conninfo: String) async {
        let error = await #expect(throws: PostgresError.self) { try await PostgresConnection(conninfo: conninfo) }
        #expect(error?.kind == .connection)
        #expect(error?.description.isEmpty == false)
        #expect(error?.description.contains("\n") == false)
        #expect(error?.description.contains("s3cret-pw") == false)
    }

    @Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
    struct WithDatabase {
        @Test func parametersRoundTripWithoutInterpolation() async throws {
            let db = try await TestDatabase.connect()
            let tricky = "O'Brien said \"hi\"; DROP TABLE x; -- Zo\u{00EB} \u{1F986} $1 \\ '' \u{0301}"
            let result = try await db.query(
                "SELECT $1::text AS echoed, $2::text AS missing, length($1) AS length, $3::int8 AS big",
                [tricky, nil, "9223372036854775807"]
            )
            #expect(result.columns == ["echoed", "missing", "length", "big"])
            let row = try result.singleRow(of: "round trip")
            #expect(row[0] == tricky)
            #expect(row[1] == nil)
            #expect(try row[1, as: String?.self] == nil)
            #expect(try row[2, as: Int.self] == tricky.unicodeScalars.count)
            #expect(try row[3, as: Int64.self] == Int64.max)
            #expect(try row.decode(String.self, "echoed") == tricky)
            #expect(try row.decode(String?.self, "missing") == nil)
            #expect(try row.decode(Int64.self, "big") == Int64.max)
        }

        @Test func nullIsAnErrorForANonOptionalType() async throws {
            let row = try await TestDatabase.connect().query("SELECT NULL::int8 AS n").singleRow(of: "null")
            let error = #expect(throws: PostgresError.self) { try row[0, as: Int64.self] }
            #expect(error?.kind == .client)
            #expect(error?.description == #"column "n" is NULL"#)
        }

        @Test func decodingByNameNamesAMissingOrInvalidColumn() async throws {
            let row = try await TestDatabase.connect().query("SELECT 'x' AS word").singleRow(of: "word")
            let missing = #expect(throws: PostgresError.self) { try row.decode(String.self, "nope") }
            #expect(missing?.kind == .client)
            #expect(missing?.description == #"the result has no column "nope""#)
            let invalid = #expect(throws: PostgresError.self) { try row.decode(Int.self, "word") }
            #expect(invalid?.description == #"column "word" is not a valid Int: x"#)
        }

        @Test func serverErrorCarriesSQLStateAndConnectionStaysUsable() async throws {
            let db = try await TestDatabase.connect()
            let error = await #expect(throws: PostgresError.self) { try await db.query("SELECT 1/0") }
            #expect(error?.kind == .server)
            #expect(error?.sqlState == "22012")
            #expect(error?.message == "division by zero")
            #expect(error?.description == "division by zero (SQLSTATE 22012)")
            #expect(try await db.query("SELECT 1").rows.first?[0] == "1")
        }

        @Test func serverHintStaysOnOneLine() async throws {
            let error = await #expect(throws: PostgresError.self) {
                try await TestDatabase.connect().query("SELECT no_such_function($1)", ["x"])
            }
            #expect(error?.sqlState == "42883")
            #expect(error?.hint != nil)
            #expect(error?.description.contains("; hint: ") == true)
            #expect(error?.description.contains("\n") == false)
        }

        @Test func onlyOneStatementPerQuery() async throws {
            let error = await #expect(throws: PostgresError.self) {
                try await TestDatabase.connect().query("SELECT 1; SELECT 2")
            }
            #expect(error?.sqlState == "42601")
        }

        @Test func parameterWithNULIsRejected() async throws {
            let error = await #expect(throws: PostgresError.self) {
                try await TestDatabase.connect().query("SELECT $1::text", ["a\u{0}b"])
            }
            #expect(error?.kind == .client)
        }

        @Test func connectionUsesUTF8AndApplicationName() async throws {
            let row = try await TestDatabase.connect()
                .query("SELECT current_setting('client_encoding'), current_setting('application_name')")
                .singleRow(of: "settings")
            #expect(row[0] == "UTF8")
            #expect(row[1] == "auditlogctl")
        }

        @Test func statementTimeoutIsApplied() async throws {
            let db = try await TestDatabase.connect(statementTimeout: "1234ms")
            #expect(try await db.query("SHOW statement_timeout").rows.first?[0] == "1234ms")

            let short = try await TestDatabase.connect(statementTimeout: "50ms")
            let error = await #expect(throws: PostgresError.self) { try await short.query("SELECT pg_sleep(5)") }
            #expect(error?.sqlState == "57014")
        }

        /// Over TCP, the server notices a vanished client within about a
        /// minute (and drops its advisory locks); the statement timeout is
        /// the server's when none is given.
        @Test func keepalivesAreSetOnBothSides() async throws {
            let db = try await TestDatabase.connect()
            let row = try await db.query(
                """
                SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),
                       current_setting('tcp_keepalives_count'), inet_client_addr() IS NOT NULL,
                       current_setting('statement_timeout') = reset_val
                FROM pg_settings WHERE name = 'statement_timeout'
                """
            ).singleRow(of: "settings")
            try #require(row[3] == "t", "AUDITLOG_TEST_DATABASE must connect over TCP")
            #expect(row[0] == "30" && row[1] == "10" && row[2] == "3")
            #expect(row[4] == "t")
        }

        /// libpq blocks while a statement runs, on the connection's own
        /// thread: with more connections sleeping in the server than Swift's
        /// shared pool has threads, other tasks and another connection's
        /// statements still finish while every sleep is still running.
        @Test func runningStatementsHoldUpNoOtherWork() async throws {
            var sleepers: [PostgresConnection] = []
            var pids: [String] = []
            for _ in 0...min(ProcessInfo.processInfo.activeProcessorCount, 16) {
                let sleeper = try await TestDatabase.connect()
                sleepers.append(sleeper)
                pids.append(try await sleeper.query("SELECT pg_backend_pid()").singleRow(of: "pid")[0, as: String.self])
            }
            let watcher = try await TestDatabase.connect()
            func sleeping() async throws -> Int {
                try await watcher.query(
                    """
                    SELECT count(*) FROM pg_stat_activity
                    WHERE pid = ANY ($1::int[]) AND state = 'active' AND query LIKE 'SELECT pg_sleep%'
                    """, ["{\(pids.joined(separator: ","))}"]
                ).singleRow(of: "pg_stat_activity")[0, as: Int.self]
            }

            try await withThrowingTaskGroup(of: Void.self) { group in
                for sleeper in sleepers {
                    group.addTask { try await sleeper.query("SELECT pg_sleep(8)") }
                }
                var waited = 0
                while try await sleeping() < sleepers.count, waited < 400 {
                    try await Task.sleep(for: .milliseconds(10))
                    waited += 1
                }
                try #require(try await sleeping() == sleepers.count, "the sleeps did not start")

                let sum = await withTaskGroup(of: Int.self) { trivial in
                    for number in 1...1000 {
                        trivial.addTask { number }
                    }
                    return await trivial.reduce(0, +)
                }
                #expect(sum == 500_500)
                #expect(try await sleeping() == sleepers.count)
                try await group.waitForAll()
            }
        }

        @Test func invalidStatementTimeoutIsAServerError() async {
            let error = await #expect(throws: PostgresError.self) {
                try await TestDatabase.connect(statementTimeout: "soon")
            }
            #expect(error?.sqlState == "22023")
        }
    }
}
