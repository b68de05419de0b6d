import ArgumentParser

/// `auditlogctl sink`: manages export sinks.
struct Sink: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, enable, disable and remove export sinks.",
        discussion: """
            A sink exports the log's new entries, optionally filtered by \
            stream, tenant or operation prefix, to a storage URL; \
            'auditlogctl run' does the uploading. The same can be done from \
            psql with auditlog.create_sink(), enable_sink(), disable_sink() \
            and drop_sink().
            """,
        subcommands: [Add.self, List.self, Enable.self, Disable.self, Remove.self]
    )
}
