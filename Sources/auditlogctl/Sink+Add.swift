import ArgumentParser
import AuditlogKit

extension Sink {
    /// `auditlogctl sink add`: creates a sink.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a sink.",
            discussion: """
                An enabled sink exports the entries written from now on; \
                history before it was created is not exported. Objects go \
                to '<url>/<stream>/dt=<YYYY-MM-DD>/<sink>-<page id>.ndjson.gz'.
                """
        )

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The sink's name: up to 63 of a-z, 0-9, '_' and '-'. It becomes part of object keys.")
        var name: String

        @Argument(
            help:
                "Where objects go: file:///absolute/path or s3://bucket/prefix (gs:// is accepted; this build cannot upload to it yet)."
        )
        var url: String

        @Option(help: ArgumentHelp("Export only entries of this stream.", valueName: "stream"))
        var stream: String?

        @Option(help: ArgumentHelp("Export only entries of this tenant.", valueName: "tenant-id"))
        var tenant: String?

        @Option(help: ArgumentHelp("Export only entries whose operation starts with this.", valueName: "prefix"))
        var operationPrefix: String?

        @Flag(help: "Create the sink disabled; 'sink enable' starts it.")
        var disabled = false

        func run() async throws {
            try await reportingErrors {
                let sink = SinkDefinition(
                    name: name,
                    url: url,
                    stream: stream,
                    tenantID: tenant,
                    operationPrefix: operationPrefix,
                    enabled: !disabled
                )
                try await sink.create(on: connection.connect())
                print("created sink \(name) (\(disabled ? "disabled" : "enabled")), exporting to \(url)")
            }
        }
    }
}
