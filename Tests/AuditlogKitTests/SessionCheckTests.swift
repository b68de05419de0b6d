import AuditlogKit
import Testing

@Suite struct SessionCheckTests {
    let token = "probe-token"

    @Test func oneSessionThatKeptItsSettingPasses() {
        let samples = Array(repeating: SessionCheck.Sample(pid: "4242", token: token), count: 4)
        #expect(SessionCheck.verdict(samples, token: token) == nil)
    }

    @Test func statementsOnOtherServerProcessesAreNotOneSession() {
        let samples = [
            SessionCheck.Sample(pid: "4242", token: token), SessionCheck.Sample(pid: "4243", token: nil),
            SessionCheck.Sample(pid: "4242", token: token), SessionCheck.Sample(pid: "4244", token: nil),
        ]
        #expect(
            SessionCheck.verdict(samples, token: token) == "4 statements in a row reached 3 different server processes")
    }

    @Test func aSettingThatWentAwayIsNotOneSession() {
        // (A pooler that reset the server session between statements, DISCARD ALL.)
        let samples = [SessionCheck.Sample(pid: "4242", token: token), SessionCheck.Sample(pid: "4242", token: nil)]
        #expect(
            SessionCheck.verdict(samples, token: token) == "a session setting made on it was gone by a later statement")
        #expect(
            AuditlogError.notOneSession("x").description
                == "the connection does not keep one server session (x): a pooler in transaction mode? "
                + "auditlogctl needs a session of its own: connect directly or through a session-mode pooler")
    }

    @Suite(.enabled(if: TestDatabase.plain != nil, "set AUDITLOG_TEST_DATABASE to run"))
    struct WithDatabase {
        @Test func aDirectConnectionIsOneSession() async throws {
            let db = try await TestDatabase.connect()
            try await SessionCheck.require(on: db)
            // The probe leaves its setting, and nothing else, behind.
            let row = try await db.query("SELECT current_setting('auditlog.session_check', true) IS NOT NULL AS set")
                .singleRow(of: "setting")
            #expect(try row.decode(Bool.self, "set"))
        }
    }
}
