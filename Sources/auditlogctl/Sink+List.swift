import ArgumentParser
import AuditlogKit

extension Sink {
    /// `auditlogctl sink list`: shows every sink and how far it has exported.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the sinks with their lag and what they have exported.",
            discussion: """
                Reads the view auditlog.sink_status. LAG is how long ago the \
                oldest entry not yet exported may have been written; LAG \
                ENTRIES counts the entries waiting, up to one million.
                """
        )

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await reportingErrors {
                print(SinkStatus.renderText(try await SinkStatus.fetchAll(from: connection.connect())))
            }
        }
    }
}
