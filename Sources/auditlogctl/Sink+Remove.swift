import ArgumentParser
import AuditlogKit

extension Sink {
    /// `auditlogctl sink remove`: removes a sink.
    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a sink and its export state.",
            discussion: "Objects already in storage stay where they are."
        )

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The sink's name.")
        var name: String

        func run() async throws {
            try await reportingErrors {
                try await SinkDefinition.remove(name, on: connection.connect())
                print("removed sink \(name)")
            }
        }
    }
}
