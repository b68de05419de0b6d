import AuditlogKit
import Foundation
import Testing

@Suite struct PassSummaryRenderingTests {
    @Test func oneLineOfMaintenanceThenOneLinePerSinkAndBackfill() {
        let summary = PassSummary(
            timedOutEntries: 2,
            partitionsCreated: 1,
            partitionsDropped: 3,
            sinks: [
                .init(name: "main", outcome: .drained, pages: 3, rows: 25_000, bytes: 1_048_576),
                .init(name: "quiet", outcome: .drained),
                .init(name: "shared", outcome: .skipped),
                .init(name: "s3", outcome: .failed, pages: 1, rows: 10, bytes: 512),
            ],
            backfills: [
                .init(
                    id: 4, export: .init(name: "main", outcome: .drained, pages: 2, rows: 12, bytes: 900),
                    finished: true),
                .init(id: 5, export: .init(name: "main", outcome: .skipped)),
            ],
            failures: [
                .init(step: "sink s3", message: "s3:// storage is not supported yet by this build of auditlogctl")
            ]
        )

        #expect(
            summary.renderText() == """
                timed out: 2 entries; partitions: 1 created, 3 dropped
                sink main: 3 pages, 25000 entries, 1048576 bytes
                sink quiet: 0 pages, 0 entries, 0 bytes
                sink shared: skipped, another runner is on it
                sink s3: 1 pages, 10 entries, 512 bytes, then failed
                backfill 4 (main): 2 pages, 12 entries, 900 bytes, done
                backfill 5 (main): skipped, another runner is on it
                """)
        #expect(!summary.succeeded)
        #expect(
            summary.failures.map(\.description) == [
                "sink s3: s3:// storage is not supported yet by this build of auditlogctl"
            ])
    }

    @Test func aPassWithoutSinksSucceeds() {
        let summary = PassSummary()
        #expect(summary.succeeded)
        #expect(summary.renderText() == "timed out: 0 entries; partitions: 0 created, 0 dropped")
    }
}

@Suite struct PassSummaryJobRenderingTests {
    @Test func oneLinePerExportJobAfterTheSinks() {
        let summary = PassSummary(
            sinks: [.init(name: "main", outcome: .drained, pages: 1, rows: 2, bytes: 300)],
            jobs: [
                .init(id: 7, outcome: .finished, parts: 3, rows: 25_000, bytes: 1_048_576),
                .init(id: 8, outcome: .failed(willRetry: true), parts: 1, rows: 10, bytes: 512),
                .init(id: 9, outcome: .failed(willRetry: false)),
                .init(id: 10, outcome: .abandoned, parts: 2, rows: 4, bytes: 64),
                .init(id: 11, outcome: .interrupted),
            ]
        )

        #expect(
            summary.renderText() == """
                timed out: 0 entries; partitions: 0 created, 0 dropped
                sink main: 1 pages, 2 entries, 300 bytes
                export job 7: 3 parts, 25000 entries, 1048576 bytes, done
                export job 8: 1 parts, 10 entries, 512 bytes, then failed; it will be retried
                export job 9: 0 parts, 0 entries, 0 bytes, then failed for good (no attempts left)
                export job 10: 2 parts, 4 entries, 64 bytes, then abandoned: cancelled or taken over by another worker
                export job 11: 0 parts, 0 entries, 0 bytes, interrupted; another pass takes it over when its lease expires
                """)
        #expect(!summary.isIdle)
        #expect(PassSummary().isIdle)
    }
}

@Suite struct ExportJobStatusRenderingTests {
    @Test func oneJobEndsWithItsLinkOnALineOfItsOwn() {
        let may1 = Date(timeIntervalSince1970: 1_714_521_600)
        let job = ExportJobStatus(
            id: 9, status: "done", stream: "audit", tenantID: "acme", requestedBy: "alice", format: "csv",
            rowsExported: 77, attempts: 1, downloadURL: "https://example.test/job-9.csv?X-Amz-Signature=ab", error: nil,
            rangeStart: may1, rangeEnd: may1.addingTimeInterval(86_400), partsExported: 2, maxAttempts: 3,
            objectURL: "s3://bucket/exports/job-9/audit_2024-05-01_2024-05-02_acme.csv", bytes: 4_096,
            sha256: String(repeating: "ab", count: 32), linkExpiresAt: may1.addingTimeInterval(3 * 86_400),
            createdAt: may1.addingTimeInterval(86_400 + 60), finishedAt: may1.addingTimeInterval(86_400 + 120)
        )

        #expect(
            job.renderText() == """
                export job 9
                  status        done
                  window        2024-05-01T00:00:00Z .. 2024-05-02T00:00:00Z
                  stream        audit
                  tenant        acme
                  format        csv
                  requested by  alice at 2024-05-02T00:01:00Z
                  progress      77 entries in 2 parts
                  attempts      1 of 3
                  finished      2024-05-02T00:02:00Z
                  object        s3://bucket/exports/job-9/audit_2024-05-01_2024-05-02_acme.csv
                  size          4096 bytes
                  sha256        \(String(repeating: "ab", count: 32))
                download link (valid until 2024-05-04T00:00:00Z):
                https://example.test/job-9.csv?X-Amz-Signature=ab
                """)
    }

    @Test func aFailedJobShowsItsErrorAndNoLink() {
        let job = ExportJobStatus(
            id: 3, status: "pending", stream: "scim", tenantID: nil, requestedBy: "bob",
            format: "ndjson.gz", rowsExported: 0, attempts: 1, downloadURL: nil,
            error: "could not put s3://b/k: HTTP 403: AccessDenied")

        let text = job.renderText()

        #expect(text.contains("\n  error         could not put s3://b/k: HTTP 403: AccessDenied"))
        #expect(text.contains("\n  tenant        all\n") && !text.contains("download link"))
    }
}
