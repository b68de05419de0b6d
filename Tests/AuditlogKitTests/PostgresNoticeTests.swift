import AuditlogKit
import Testing

@Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
struct PostgresNoticeTests {
    @Test func noticesAndWarningsGoToTheLoggerWithTheirSQLState() async throws {
        let recorder = LineRecorder()
        let db = try await PostgresConnection(conninfo: #require(TestDatabase.plain), logger: recorder.textLogger())
        try await db.query(
            """
            DO $$ BEGIN
              RAISE WARNING 'could not drop partition now' USING ERRCODE = '55P03', HINT = 'try later';
              RAISE NOTICE 'moved % entries', 2;
            END $$
            """)
        #expect(
            recorder.lines == [
                "auditlogctl: warning: could not drop partition now hint=\"try later\" sqlstate=55P03\n",
                "auditlogctl: notice: moved 2 entries sqlstate=00000\n",
            ])
    }

    @Test func theLoggersLevelFiltersNotices() async throws {
        let recorder = LineRecorder()
        let db = try await PostgresConnection(
            conninfo: #require(TestDatabase.plain), logger: recorder.textLogger(level: .warning))
        try await db.query("DO $$ BEGIN RAISE NOTICE 'quiet'; RAISE WARNING 'loud'; END $$")
        #expect(recorder.lines == ["auditlogctl: warning: loud sqlstate=01000\n"])
    }
}
