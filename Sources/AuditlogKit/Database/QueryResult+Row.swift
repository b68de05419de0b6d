extension QueryResult {
    /// One row of a ``QueryResult``: a text value, or `nil` for SQL NULL, per column.
    public struct Row: Sendable {
        /// The column names, shared with the result.
        public let columns: [String]
        /// The values in text format; `nil` is SQL NULL.
        public let values: [String?]

        /// The text of the value at `index`, or `nil` for SQL NULL.
        public subscript(index: Int) -> String? {
            values[index]
        }

        /// The value at `index`, decoded from text.
        ///
        /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/client``
        ///   when the value is NULL or is not valid text for `T`.
        public subscript<T: PostgresTextDecodable>(index: Int, as type: T.Type) -> T {
            get throws {
                guard let value = try self[index, as: T?.self] else {
                    throw PostgresError(kind: .client, message: "column \"\(columns[index])\" is NULL")
                }
                return value
            }
        }

        /// The value at `index`, decoded from text, or `nil` for SQL NULL.
        ///
        /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/client``
        ///   when the value is not valid text for `T`.
        public subscript<T: PostgresTextDecodable>(index: Int, as type: T?.Type) -> T? {
            get throws {
                guard let text = values[index] else { return nil }
                guard let value = T(postgresText: text) else {
                    throw PostgresError(
                        kind: .client, message: "column \"\(columns[index])\" is not a valid \(T.self): \(text)")
                }
                return value
            }
        }

        /// The value in the column named `column`, decoded from text.
        ///
        /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/client``
        ///   naming the column when the result has no such column, or its
        ///   value is NULL or not valid text for `T`.
        public func decode<T: PostgresTextDecodable>(_ type: T.Type, _ column: String) throws -> T {
            try self[index(of: column), as: T.self]
        }

        /// The value in the column named `column`, decoded from text, or
        /// `nil` for SQL NULL.
        ///
        /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/client``
        ///   naming the column when the result has no such column, or its
        ///   value is not valid text for `T`.
        public func decode<T: PostgresTextDecodable>(_ type: T?.Type, _ column: String) throws -> T? {
            try self[index(of: column), as: T?.self]
        }

        private func index(of column: String) throws -> Int {
            guard let index = columns.firstIndex(of: column) else {
                throw PostgresError(kind: .client, message: "the result has no column \"\(column)\"")
            }
            return index
        }
    }
}
