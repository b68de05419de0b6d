internal import CLibPQ
public import Logging

/// A connection to PostgreSQL through libpq.
///
/// Statements are always sent with `PQexecParams`: values travel as separate
/// parameters (`$1`, `$2`, …), never spliced into SQL text, and a statement
/// string can hold only one command.
///
/// libpq blocks while the server works, so the connection is an actor that
/// runs on a thread of its own (``ConnectionThread``): callers await its
/// statements, one at a time, without holding up Swift's shared threads.
/// It is closed, and its thread ends, when the last reference goes away.
///
/// The server's notices and warnings (`RAISE NOTICE`, `RAISE WARNING`) go
/// to the logger given to ``init(conninfo:statementTimeout:logger:)``, or
/// to standard error as libpq writes them when there is none.
public actor PostgresConnection {
    private let handle: Handle
    /// Kept alive as long as libpq may call back with it.
    private let noticeLogger: NoticeLogger?
    private let thread: ConnectionThread

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        thread.asUnownedSerialExecutor()
    }

    /// Opens a connection.
    ///
    /// - Parameters:
    ///   - conninfo: A libpq connection string (`host=db user=app dbname=prod`)
    ///     or URI (`postgresql://app@db/prod?sslmode=verify-full`). The empty
    ///     string means libpq's defaults: the `PG*` environment variables,
    ///     service files and `.pgpass`. The connection reports
    ///     `application_name` `auditlogctl` unless the string or `PGAPPNAME`
    ///     names another, and always uses `client_encoding` UTF8.
    ///   - statementTimeout: A value for the session's `statement_timeout`,
    ///     such as `5s` or `0` for none; `nil` keeps the server's setting.
    ///     The session's TCP keepalives are set to notice a vanished client
    ///     within about a minute.
    ///   - logger: Where the server's notices go: warnings at level
    ///     `warning`, everything else at `notice` (`debug` for `DEBUG`),
    ///     with the SQLSTATE, detail and hint as metadata. `nil` leaves them
    ///     to libpq, which writes them to standard error.
    /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/connection``
    ///   when the connection fails, or of kind ``PostgresError/Kind/server``
    ///   when the server rejects the statement timeout.
    public init(conninfo: String, statementTimeout: String? = nil, logger: Logger? = nil) async throws {
        let thread = ConnectionThread(name: "libpq connection")
        do {
            handle = try await thread.run { try Self.connect(conninfo) }
        } catch {
            thread.stop()
            throw error
        }
        self.thread = thread
        noticeLogger = logger.map(NoticeLogger.init)
        if let noticeLogger {
            PQsetNoticeReceiver(
                handle.pointer,
                { context, notice in
                    guard let context, let notice else { return }
                    Unmanaged<NoticeLogger>.fromOpaque(context).takeUnretainedValue().log(notice)
                }, Unmanaged.passUnretained(noticeLogger).toOpaque())
        }
        try query(
            """
            SELECT set_config('tcp_keepalives_idle', '30', false), set_config('tcp_keepalives_interval', '10', false),
                   set_config('tcp_keepalives_count', '3', false),
                   CASE WHEN $1::text IS NOT NULL THEN set_config('statement_timeout', $1, false) END
            """, [statementTimeout])
    }

    deinit {
        PQfinish(handle.pointer)
        thread.stop()
    }

    /// Opens the libpq connection, blocking until it is made or fails.
    private static func connect(_ conninfo: String) throws -> Handle {
        // With expand_dbname, the conninfo given as `dbname` is parsed as a
        // full connection string or URI. Its settings override the entries
        // before it and are overridden by the entries after it.
        //
        // Keepalives: a peer that vanished (a host powered off, a network
        // cut) is noticed within about a minute on both sides. libpq fails
        // the statement instead of waiting forever (the conninfo may say
        // otherwise), and the server ends the session, releasing the
        // advisory lock by which a runner holds a sink, so that another
        // replica takes the sink over.
        let keywords = [
            "fallback_application_name", "keepalives_idle", "keepalives_interval", "keepalives_count",
            "dbname", "client_encoding", nil,
        ]
        let values = ["auditlogctl", "30", "10", "3", conninfo, "UTF8", nil]
        let connection = withCStringArray(keywords) { keywords in
            withCStringArray(values) { values in
                PQconnectdbParams(keywords, values, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(kind: .connection, message: Self.redactingSyntaxError(message, in: conninfo))
        }
        return Handle(pointer: connection)
    }

    /// Runs one SQL statement with text parameters and returns its rows.
    ///
    /// - Parameters:
    ///   - sql: One statement, referring to parameters as `$1`, `$2`, ….
    ///   - parameters: The parameter values in text format; `nil` is SQL NULL.
    ///     The server infers each parameter's type; cast in SQL (`$1::int8`)
    ///     where it cannot.
    /// - Returns: The rows, empty for statements that return none.
    /// - Throws: ``PostgresError``: of kind ``PostgresError/Kind/server`` with
    ///   the SQLSTATE when the server rejects the statement, of kind
    ///   ``PostgresError/Kind/connection`` when the connection is lost, and of
    ///   kind ``PostgresError/Kind/client`` when a parameter contains a NUL
    ///   character, which PostgreSQL text cannot hold.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> QueryResult {
        if let index = parameters.firstIndex(where: { $0?.utf8.contains(0) == true }) {
            throw PostgresError(kind: .client, message: "parameter $\(index + 1) contains a NUL character")
        }
        let result = withCStringArray(parameters) { values in
            PQexecParams(handle.pointer, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard let result else {
            throw lastError(result: nil)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
            return Self.copy(result)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            throw lastError(result: result)
        case let status:
            let name = String(cString: PQresStatus(status))
            throw PostgresError(kind: .client, message: "unsupported result status \(name)")
        }
    }

    /// The error for a failed statement: a server error when it carries a
    /// SQLSTATE, else a connection error when the connection is gone, else a
    /// client error (libpq's own, such as running out of memory).
    private func lastError(result: OpaquePointer?) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let result, let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        if let sqlState = field(CLIBPQ_DIAG_SQLSTATE) {
            return PostgresError(
                kind: .server,
                message: field(CLIBPQ_DIAG_MESSAGE_PRIMARY) ?? sqlState,
                sqlState: sqlState,
                detail: field(CLIBPQ_DIAG_MESSAGE_DETAIL),
                hint: field(CLIBPQ_DIAG_MESSAGE_HINT)
            )
        }
        let message = result.map { String(cString: PQresultErrorMessage($0)) } ?? ""
        return PostgresError(
            kind: PQstatus(handle.pointer) == CONNECTION_BAD ? .connection : .client,
            message: message.isEmpty ? String(cString: PQerrorMessage(handle.pointer)) : message
        )
    }

    /// libpq's messages about a malformed connection string quote parts of
    /// it, up to the whole URI. When the string may hold a password (a
    /// `password` setting or URI user info), those quotes are blanked out.
    private static func redactingSyntaxError(_ message: String, in conninfo: String) -> String {
        let isConnectionString = conninfo.contains("=") || conninfo.contains("://")
        let mayHoldPassword = conninfo.lowercased().contains("password") || conninfo.contains("@")
        guard isConnectionString, mayHoldPassword else { return message }
        var parseError: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(conninfo, &parseError) {
            PQconninfoFree(options)
            return message
        }
        PQfreemem(parseError)
        return message.replacing(/"[^"]*"/, with: "\"...\"")
    }

    private static func copy(_ result: OpaquePointer) -> QueryResult {
        let columnCount = PQnfields(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        let values = (0..<PQntuples(result)).map { row in
            (0..<columnCount).map { column -> String? in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            }
        }
        return QueryResult(columns: columns, values: values)
    }
}

/// A libpq connection, used only on its connection's thread.
private struct Handle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Logs the server's notices for one connection; libpq holds a pointer to
/// it as the notice receiver's context.
private final class NoticeLogger {
    let logger: Logger

    init(_ logger: Logger) {
        self.logger = logger
    }

    func log(_ notice: OpaquePointer) {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(notice, code).map { String(cString: $0) }
        }
        let level: Logger.Level =
            switch field(CLIBPQ_DIAG_SEVERITY_NONLOCALIZED) {
            case "WARNING": .warning
            case "DEBUG": .debug
            default: .notice
            }
        var metadata: Logger.Metadata = [:]
        metadata["sqlstate"] = field(CLIBPQ_DIAG_SQLSTATE).map { .string($0) }
        metadata["detail"] = field(CLIBPQ_DIAG_MESSAGE_DETAIL).map { .string($0) }
        metadata["hint"] = field(CLIBPQ_DIAG_MESSAGE_HINT).map { .string($0) }
        let message =
            field(CLIBPQ_DIAG_MESSAGE_PRIMARY)
            ?? String(cString: PQresultErrorMessage(notice)).split(whereSeparator: \.isNewline).joined(separator: " ")
        logger.log(level: level, "\(message)", metadata: metadata)
    }
}

/// Calls `body` with pointers to NUL-terminated copies of `strings`, where
/// `nil` stays a null pointer. The pointers are valid only inside `body`.
private func withCStringArray<Result>(
    _ strings: [String?],
    _ body: ([UnsafePointer<CChar>?]) -> Result
) -> Result {
    var storage: [CChar] = []
    let offsets = strings.map { string -> Int? in
        guard let string else { return nil }
        let offset = storage.count
        storage.append(contentsOf: string.utf8CString)
        return offset
    }
    return storage.withUnsafeBufferPointer { buffer in
        body(offsets.map { offset in offset.map { buffer.baseAddress! + $0 } })
    }
}
