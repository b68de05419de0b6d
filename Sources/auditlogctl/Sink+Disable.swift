import ArgumentParser
import AuditlogKit

extension Sink {
    /// `auditlogctl sink disable`: disables a sink.
    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a sink.",
            discussion: """
                The sink stops taking new entries. What it owes from before \
                is kept and exported once it is enabled again.
                """
        )

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The sink's name.")
        var name: String

        func run() async throws {
            try await reportingErrors {
                let changed = try await SinkDefinition.disable(name, on: connection.connect())
                print(changed ? "disabled sink \(name)" : "sink \(name) was already disabled")
            }
        }
    }
}
