import AuditlogKit
import Foundation
import Logging
import Testing

@Suite struct LogHandlerTests {
    private static let instant = Date(timeIntervalSince1970: 1_764_623_080.5)

    @Test func jsonHandlerWritesOneSortedObjectPerLine() throws {
        let recorder = LineRecorder()
        var logger = Logger(label: "auditlogctl") {
            JSONLogHandler(label: $0, output: recorder.output, now: { Self.instant })
        }
        logger[metadataKey: "pid"] = "42"
        logger.warning(
            "could not drop \"p\"\nnow", metadata: ["sqlstate": "55006", "message": "shadowed", "list": ["a", "b"]])

        #expect(
            recorder.lines == [
                #"{"label":"auditlogctl","level":"warning","list":["a","b"],"message":"could not drop \"p\"\nnow","metadata.message":"shadowed","pid":"42","sqlstate":"55006","timestamp":"2025-12-01T21:04:40.500Z"}"#
                    + "\n"
            ])
        let object = try JSONSerialization.jsonObject(with: Data(recorder.lines[0].utf8)) as? [String: Any]
        #expect(object?["message"] as? String == "could not drop \"p\"\nnow")
    }

    @Test func jsonHandlerHonoursItsLevel() {
        let recorder = LineRecorder()
        var logger = Logger(label: "auditlogctl") { JSONLogHandler(label: $0, output: recorder.output) }
        logger.logLevel = .warning
        logger.info("left out")
        logger.error("kept")
        #expect(recorder.lines.count == 1)
        #expect(recorder.lines.first?.contains(#""level":"error""#) == true)
    }

    @Test func textHandlerKeepsTheErrorStyleAndNamesOtherLevels() {
        let recorder = LineRecorder()
        let logger = recorder.textLogger()
        logger.error("sink main: storage unreachable")
        logger.info("exported", metadata: ["sink": "main", "rows": "3"])
        logger.notice(
            "two\nlines", metadata: ["detail": "a \"quoted\" value", "empty": "", "path": #"C:\x"#, "eq": "a=b"])

        #expect(
            recorder.lines == [
                "auditlogctl: sink main: storage unreachable\n",
                "auditlogctl: info: exported rows=3 sink=main\n",
                #"auditlogctl: notice: two\nlines detail="a \"quoted\" value" empty="" eq="a=b" path="C:\\x""# + "\n",
            ])
    }

    @Test func textHandlerKeepsValuesWithLineBreaksOnOneLine() {
        let recorder = LineRecorder()
        recorder.textLogger().warning("w", metadata: ["hint": "first\nsecond"])
        #expect(recorder.lines == [#"auditlogctl: warning: w hint="first\nsecond""# + "\n"])
    }
}
