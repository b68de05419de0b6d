/// What `auditlogctl verify` found for one sink: per UTC day, the pages and
/// entries the database says were exported against those found in storage,
/// and every finding.
public struct VerifyReport: Sendable, Equatable, Codable {
    /// The sink verified.
    public var sink: String
    /// The sink's storage URL.
    public var url: String
    /// The first UTC day verified, `YYYY-MM-DD`, or `nil` for no bound.
    public var from: String?
    /// The last UTC day verified, `YYYY-MM-DD`, or `nil` for no bound.
    public var to: String?
    /// The counts of each UTC day that has pages or objects, in date order.
    public var days: [Day] = []
    /// The findings, in the order they were found: the pages in chain
    /// order, then the objects in storage no acknowledged page names.
    public var findings: [Finding] = []

    /// Creates an empty report.
    public init(sink: String, url: String, from: String? = nil, to: String? = nil) {
        self.sink = sink
        self.url = url
        self.from = from
        self.to = to
    }

    /// The sums of ``days``.
    public var totals: Counts {
        days.reduce(into: Counts()) { $0.add($1.counts) }
    }

    /// The findings that are errors or warnings: what makes verification
    /// fail.
    public var problems: [Finding] {
        findings.filter { $0.severity != .note }
    }

    /// Whether every page checked out: no errors and no warnings.
    public var succeeded: Bool {
        problems.isEmpty
    }

    /// Counts of pages and entries.
    public struct Counts: Sendable, Equatable, Codable {
        /// Pages the database records as acknowledged.
        public var databasePages = 0
        /// Entries of those pages, by the database's count.
        public var databaseEntries = 0
        /// Of those pages, the ones whose object was found in storage.
        public var storedPages = 0
        /// Lines in the objects found.
        public var storedEntries = 0
        /// Objects named for the sink that no acknowledged page names: the
        /// page in flight among them.
        public var unknownObjects = 0
        /// Objects of the sink's backfills, which are outside the chain and
        /// only counted.
        public var backfillObjects = 0

        /// Creates counts, all zero unless told.
        public init(
            databasePages: Int = 0, databaseEntries: Int = 0, storedPages: Int = 0, storedEntries: Int = 0,
            unknownObjects: Int = 0, backfillObjects: Int = 0
        ) {
            self.databasePages = databasePages
            self.databaseEntries = databaseEntries
            self.storedPages = storedPages
            self.storedEntries = storedEntries
            self.unknownObjects = unknownObjects
            self.backfillObjects = backfillObjects
        }

        mutating func add(_ other: Counts) {
            databasePages += other.databasePages
            databaseEntries += other.databaseEntries
            storedPages += other.storedPages
            storedEntries += other.storedEntries
            unknownObjects += other.unknownObjects
            backfillObjects += other.backfillObjects
        }
    }

    /// The counts of one UTC day.
    public struct Day: Sendable, Equatable, Codable {
        /// The day, `YYYY-MM-DD`: the `dt=` folder of its objects.
        public var date: String
        /// Its counts.
        public var counts: Counts

        /// Creates a day's counts.
        public init(date: String, counts: Counts = Counts()) {
            self.date = date
            self.counts = counts
        }
    }

    /// Something verification found about a page, an object or the chain.
    public struct Finding: Sendable, Equatable, Codable, CustomStringConvertible {
        /// What was found.
        public var kind: Kind
        /// The object concerned, relative to the sink's URL, if any.
        public var objectKey: String?
        /// The page concerned, if any.
        public var pageID: String?
        /// One line for a person.
        public var message: String

        /// Creates a finding.
        public init(kind: Kind, objectKey: String? = nil, pageID: String? = nil, message: String) {
            self.kind = kind
            self.objectKey = objectKey
            self.pageID = pageID
            self.message = message
        }

        /// How much the finding matters, from its kind.
        public var severity: Severity {
            kind.severity
        }

        /// `<severity>: <message>`.
        public var description: String {
            "\(severity.rawValue): \(message)"
        }

        private enum CodingKeys: String, CodingKey {
            case kind, objectKey, pageID, message, severity
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            kind = try container.decode(Kind.self, forKey: .kind)
            objectKey = try container.decodeIfPresent(String.self, forKey: .objectKey)
            pageID = try container.decodeIfPresent(String.self, forKey: .pageID)
            message = try container.decode(String.self, forKey: .message)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kind, forKey: .kind)
            try container.encode(objectKey, forKey: .objectKey)
            try container.encode(pageID, forKey: .pageID)
            try container.encode(message, forKey: .message)
            try container.encode(severity, forKey: .severity)
        }
    }

    /// How much a finding matters.
    public enum Severity: String, Sendable, Equatable, Codable {
        /// Storage does not hold what the database says was exported, or the
        /// chain proves a page missing or changed.
        case error
        /// Something verification cannot explain from what the database
        /// records, and cannot prove wrong either.
        case warning
        /// Expected and explained: reported so that it can be seen.
        case note
    }

    /// The kinds of findings.
    public enum Kind: String, Sendable, Equatable, Codable, CaseIterable {
        /// An acknowledged page's object is not in storage.
        case missingObject
        /// An object is not one complete gzip stream, or could not be read.
        case unreadableObject
        /// An object's body has another SHA-256 than its page recorded.
        case sha256Mismatch
        /// An object has another number of lines than its page's entries.
        case rowCountMismatch
        /// A line is not an entry: not JSON, or without `id`, `stream` or
        /// `logged_at`.
        case malformedLine
        /// An entry's `logged_at` is not on its object's `dt=` day.
        case wrongDay
        /// An entry's `stream` is not its page's.
        case wrongStream
        /// An entry id already seen in another page (or earlier in the same
        /// one).
        case duplicateEntry
        /// A page's recorded predecessor is not the page acknowledged before
        /// it: a page is missing from the chain, or was changed.
        case chainBroken
        /// The chain starts again (a page with no predecessor recorded) where
        /// the database records no re-anchor that explains it.
        case unexplainedChainRestart
        /// An object named for the sink that no acknowledged page names.
        case unknownObject
        /// The chain starts again where the sink was re-anchored, or starts
        /// at the first page the database holds.
        case chainRestart
        /// The object of the page in flight, not acknowledged yet.
        case pageInFlight

        /// How much a finding of this kind matters.
        public var severity: Severity {
            switch self {
            case .missingObject, .unreadableObject, .sha256Mismatch, .rowCountMismatch, .malformedLine, .wrongDay,
                .wrongStream, .duplicateEntry, .chainBroken:
                return .error
            case .unexplainedChainRestart, .unknownObject:
                return .warning
            case .chainRestart, .pageInFlight:
                return .note
            }
        }
    }
}
