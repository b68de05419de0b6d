import AuditlogKit
import Testing

@Suite struct PostgresErrorTests {
    @Test func connectionErrorKeepsOnlyTheFirstLine() {
        let error = PostgresError(
            kind: .connection,
            message: """
                connection to server at "db" (10.0.0.5), port 5432 failed: Connection refused
                \tIs the server running on that host and accepting TCP/IP connections?

                """
        )
        #expect(error.description == #"connection to server at "db" (10.0.0.5), port 5432 failed: Connection refused"#)
    }

    @Test func serverErrorIsOneLineWithSQLStateDetailAndHint() {
        let error = PostgresError(
            kind: .server,
            message: "duplicate key value violates unique constraint \"sinks_pkey\"",
            sqlState: "23505",
            detail: "Key (name)=(s3)\nalready exists.",
            hint: "Pick another name."
        )
        #expect(
            error.description == """
                duplicate key value violates unique constraint "sinks_pkey" (SQLSTATE 23505); \
                detail: Key (name)=(s3) already exists.; hint: Pick another name.
                """)
    }
}
