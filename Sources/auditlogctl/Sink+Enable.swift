import ArgumentParser
import AuditlogKit

extension Sink {
    /// `auditlogctl sink enable`: enables a sink.
    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enable a sink.",
            discussion: """
                The sink first finishes what it owed when it was disabled, \
                then exports the entries written from now on. Entries \
                written while it was disabled are not exported.
                """
        )

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The sink's name.")
        var name: String

        func run() async throws {
            try await reportingErrors {
                let changed = try await SinkDefinition.enable(name, on: connection.connect())
                print(changed ? "enabled sink \(name)" : "sink \(name) was already enabled")
            }
        }
    }
}
