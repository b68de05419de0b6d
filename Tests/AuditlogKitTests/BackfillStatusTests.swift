import Testing

@testable import AuditlogKit

@Suite struct BackfillStatusTests {
    @Test(arguments: [
        (0.0, "[          ]   0%"),
        (55.5, "[#####     ]  55%"),
        (100.0, "[##########] 100%"),
        (250.0, "[##########] 100%"),
        (-3.0, "[          ]   0%"),
    ])
    func progressBars(percent: Double, expected: String) {
        #expect(BackfillStatus.progressBar(percent) == expected)
    }

    @Test func noBackfills() {
        #expect(BackfillStatus.renderText([]) == "no backfills")
    }
}
