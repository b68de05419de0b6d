extension Auditlog {
    /// An edition of the auditlog extension: what `auditlog.edition()`
    /// returns as its `edition`.
    public enum Edition: String, Codable, Sendable, CaseIterable, PostgresTextDecodable {
        /// The extension with its C module: `CREATE EXTENSION auditlog` on
        /// a server that has the module installed.
        case c
        /// The same schema and functions without C, for servers that load no
        /// C module and give nobody superuser: installed with `psql -f
        /// auditlog.sql`, or created as an extension without C.
        case sql

        /// Reads `c` or `sql`.
        public init?(postgresText: String) {
            self.init(rawValue: postgresText)
        }

        /// `C` or `SQL`, as the edition's name is written in prose.
        public var name: String {
            switch self {
            case .c: "C"
            case .sql: "SQL"
            }
        }
    }
}
