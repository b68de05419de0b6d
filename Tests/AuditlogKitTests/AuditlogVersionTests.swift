import AuditlogKit
import Foundation
import Testing

/// `auditlogctl` and the extension are released together, under one version.
@Suite struct AuditlogVersionTests {
    @Test func theToolHasTheExtensionsVersion() throws {
        let control = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("extension/auditlog.control")
        let text = try String(contentsOf: control, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("default_version") })
        #expect(line == "default_version = '\(Auditlog.toolVersion)'")
    }
}
