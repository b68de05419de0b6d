import Testing

@testable import AuditlogKit

@Suite struct SinkStatusRenderingTests {
    @Test func tableIsAlignedWithTheURLLast() {
        let sinks = [
            SinkStatus(
                name: "main", enabled: true, url: "file:///var/lib/auditlog", lagSeconds: 187.4,
                lagRows: 12, pagesAcked: 1_024, rowsAcked: 10_240_000
            ),
            SinkStatus(
                name: "siem-archive", enabled: false, url: "s3://audit/siem", lagSeconds: nil,
                lagRows: 0, pagesAcked: 0, rowsAcked: 0
            ),
        ]
        #expect(
            SinkStatus.renderText(sinks) == """
                SINK          ENABLED    LAG  LAG ENTRIES  PAGES ACKED  ENTRIES ACKED  URL
                main          yes      3m07s           12         1024       10240000  file:///var/lib/auditlog
                siem-archive  no           -            0            0              0  s3://audit/siem
                """)
    }

    @Test func noSinks() {
        #expect(SinkStatus.renderText([]) == "no sinks")
    }

    @Test(
        arguments: [
            (nil, "-"),
            (-3, "0s"),
            (0.9, "0s"),
            (59, "59s"),
            (60, "1m00s"),
            (3_599, "59m59s"),
            (7_500, "2h05m"),
            (273_600, "3d04h"),
            (.infinity, "11574074074d01h"),
        ] as [(Double?, String)])
    func durations(seconds: Double?, expected: String) {
        #expect(SinkStatus.duration(seconds) == expected)
    }
}
