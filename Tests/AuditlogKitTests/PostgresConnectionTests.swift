import AuditlogKit
import Testing

@Suite struct PostgresConnectionTests {
    @Test(arguments: [
        "host=127.0.0.1 port=1 user=auditor password=s3cret-pw connect_timeout=5",
        "postgresql://auditor:s3cret-pw@127.0.0.1:1/app?connect_timeout=5",
        "host=127.0.0.1 no_such_option=s3cret-pw",
        "postgresql://auditor:s3cret-pw@[::1",
    ])
    func badConninfoIsAConnectionError(conninfo: String) {
        let error = #expect(throws: PostgresError.self) { try PostgresConnection(conninfo: conninfo) }
        #expect(error?.kind == .connection)
        #expect(error?.description.isEmpty == false)
        #expect(error?.description.contains("\n") == false)
        #expect(error?.description.contains("s3cret-pw") == false)
    }

    @Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
    struct WithDatabase {
        @Test func parametersRoundTripWithoutInterpolation() throws {
            let db = try TestDatabase.connect()
            let tricky = "O'Brien said \"hi\"; DROP TABLE x; -- Zo\u{00EB} \u{1F986} $1 \\ '' \u{0301}"
            let result = try db.query(
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
            #expect(row.string(column: "echoed") == tricky)
        }

        @Test func nullIsAnErrorForANonOptionalType() throws {
            let row = try TestDatabase.connect().query("SELECT NULL::int8 AS n").singleRow(of: "null")
            let error = #expect(throws: PostgresError.self) { try row[0, as: Int64.self] }
            #expect(error?.kind == .client)
            #expect(error?.description == #"column "n" is NULL"#)
        }

        @Test func serverErrorCarriesSQLStateAndConnectionStaysUsable() throws {
            let db = try TestDatabase.connect()
            let error = #expect(throws: PostgresError.self) { try db.query("SELECT 1/0") }
            #expect(error?.kind == .server)
            #expect(error?.sqlState == "22012")
            #expect(error?.message == "division by zero")
            #expect(error?.description == "division by zero (SQLSTATE 22012)")
            #expect(try db.query("SELECT 1").rows.first?[0] == "1")
        }

        @Test func serverHintStaysOnOneLine() throws {
            let error = #expect(throws: PostgresError.self) {
                try TestDatabase.connect().query("SELECT no_such_function($1)", ["x"])
            }
            #expect(error?.sqlState == "42883")
            #expect(error?.hint != nil)
            #expect(error?.description.contains("; hint: ") == true)
            #expect(error?.description.contains("\n") == false)
        }

        @Test func onlyOneStatementPerQuery() throws {
            let error = #expect(throws: PostgresError.self) {
                try TestDatabase.connect().query("SELECT 1; SELECT 2")
            }
            #expect(error?.sqlState == "42601")
        }

        @Test func parameterWithNULIsRejected() throws {
            let error = #expect(throws: PostgresError.self) {
                try TestDatabase.connect().query("SELECT $1::text", ["a\u{0}b"])
            }
            #expect(error?.kind == .client)
        }

        @Test func connectionUsesUTF8AndApplicationName() throws {
            let row = try TestDatabase.connect()
                .query("SELECT current_setting('client_encoding'), current_setting('application_name')")
                .singleRow(of: "settings")
            #expect(row[0] == "UTF8")
            #expect(row[1] == "auditlogctl")
        }

        @Test func statementTimeoutIsApplied() throws {
            let db = try TestDatabase.connect(statementTimeout: "1234ms")
            #expect(try db.query("SHOW statement_timeout").rows.first?[0] == "1234ms")

            let short = try TestDatabase.connect(statementTimeout: "50ms")
            let error = #expect(throws: PostgresError.self) { try short.query("SELECT pg_sleep(5)") }
            #expect(error?.sqlState == "57014")
        }

        /// Over TCP, the server notices a vanished client within about a
        /// minute (and drops its advisory locks); the statement timeout is
        /// the server's when none is given.
        @Test func keepalivesAreSetOnBothSides() throws {
            let db = try TestDatabase.connect()
            let row = try db.query("""
                SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),
                       current_setting('tcp_keepalives_count'), inet_client_addr() IS NOT NULL,
                       current_setting('statement_timeout') = reset_val
                FROM pg_settings WHERE name = 'statement_timeout'
                """).singleRow(of: "settings")
            try #require(row[3] == "t", "AUDITLOG_TEST_DATABASE must connect over TCP")
            #expect(row[0] == "30" && row[1] == "10" && row[2] == "3")
            #expect(row[4] == "t")
        }

        @Test func invalidStatementTimeoutIsAServerError() {
            let error = #expect(throws: PostgresError.self) { try TestDatabase.connect(statementTimeout: "soon") }
            #expect(error?.sqlState == "22023")
        }
    }
}
