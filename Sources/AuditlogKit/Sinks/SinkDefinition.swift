/// An export sink: where entries go and which ones, a row of `auditlog.sink`.
public struct SinkDefinition: Sendable, Equatable {
    /// The sink's name: 1 to 63 characters of `a-z`, `0-9`, `_` and `-`.
    public var name: String
    /// Where objects go: `file:///path`, `s3://bucket/prefix` or
    /// `gs://bucket/prefix`.
    public var url: String
    /// Export only entries of this stream; `nil` for every stream.
    public var stream: String?
    /// Export only entries of this tenant; `nil` for every tenant.
    public var tenantID: String?
    /// Export only entries whose operation starts with this; `nil` for all.
    public var operationPrefix: String?
    /// Whether the sink exports. A sink starts from the moment it is created
    /// or enabled; entries written while it was disabled need a backfill.
    public var enabled: Bool

    /// Creates a definition.
    public init(
        name: String,
        url: String,
        stream: String? = nil,
        tenantID: String? = nil,
        operationPrefix: String? = nil,
        enabled: Bool = true
    ) {
        self.name = name
        self.url = url
        self.stream = stream
        self.tenantID = tenantID
        self.operationPrefix = operationPrefix
        self.enabled = enabled
    }
}

extension SinkDefinition {
    /// Creates the sink with `auditlog.create_sink`.
    ///
    /// - Throws: ``PostgresError`` when the name is taken or invalid, or the
    ///   URL or a filter is not valid.
    public func create(on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            SELECT auditlog.create_sink(name => $1, url => $2, stream => $3, tenant_id => $4,
                                        operation_prefix => $5, enabled => $6::boolean)
            """,
            [name, url, stream, tenantID, operationPrefix, enabled ? "true" : "false"]
        )
    }

    /// Enables the sink named `name`, which then exports from a fresh start.
    ///
    /// - Returns: `true` if it was disabled, `false` if it was enabled already.
    /// - Throws: ``PostgresError`` when there is no such sink.
    public static func enable(_ name: String, on connection: PostgresConnection) async throws -> Bool {
        try await connection.query("SELECT auditlog.enable_sink($1)", [name])
            .singleRow(of: "auditlog.enable_sink")[0, as: Bool.self]
    }

    /// Disables the sink named `name`. Entries written while it was enabled
    /// are still exported, once it is enabled again.
    ///
    /// - Returns: `true` if it was enabled, `false` if it was disabled already.
    /// - Throws: ``PostgresError`` when there is no such sink.
    public static func disable(_ name: String, on connection: PostgresConnection) async throws -> Bool {
        try await connection.query("SELECT auditlog.disable_sink($1)", [name])
            .singleRow(of: "auditlog.disable_sink")[0, as: Bool.self]
    }

    /// Removes the sink named `name` with its export state. Objects already
    /// in storage stay.
    ///
    /// - Throws: ``PostgresError`` when there is no such sink.
    public static func remove(_ name: String, on connection: PostgresConnection) async throws {
        try await connection.query("SELECT auditlog.drop_sink($1)", [name])
    }
}
