/// Facts about auditlog shared by the library and `auditlogctl`.
public enum Auditlog {
    /// The version of `auditlogctl` and AuditlogKit.
    public static let toolVersion = "0.5.0"

    /// Returns the version of the auditlog extension installed in the
    /// connected database, or `nil` when it is not installed.
    public static func installedExtensionVersion(on connection: PostgresConnection) async throws -> String? {
        let result = try await connection.query("SELECT extversion FROM pg_extension WHERE extname = $1", ["auditlog"])
        return result.rows.first?[0]
    }
}
