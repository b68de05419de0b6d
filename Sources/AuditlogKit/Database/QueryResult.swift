/// The rows a statement returned, as text.
///
/// Values are copied out of libpq when the statement completes, so a result
/// is a plain value that outlives its connection.
public struct QueryResult: Sendable {
    /// The column names, in select-list order.
    public let columns: [String]
    /// The rows, in the order the server sent them.
    public let rows: [Row]

    init(columns: [String], values: [[String?]]) {
        self.columns = columns
        self.rows = values.map { Row(columns: columns, values: $0) }
    }

    /// The only row of a result that must have exactly one.
    ///
    /// - Parameter source: What was queried, for the error message.
    /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/client`` when
    ///   there are no rows or several.
    public func singleRow(of source: String) throws -> Row {
        guard rows.count == 1 else {
            throw PostgresError(kind: .client, message: "\(source) returned \(rows.count) rows; expected exactly one")
        }
        return rows[0]
    }
}
