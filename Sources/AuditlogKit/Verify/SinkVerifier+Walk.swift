import Foundation

extension SinkVerifier {
    /// The state of one verification: the report so far, and what must be
    /// remembered from page to page.
    struct Walk {
        var report: VerifyReport
        let storage: any ObjectStorage
        /// The sink's latest anchor, if it has export state.
        let anchor: (reason: String, at: String)?
        /// The streams whose `dt=` folders are listed.
        var streams: Set<String> = []
        /// The object keys of the pages checked.
        var acknowledgedKeys: Set<String> = []
        /// Every entry id read so far: 16 bytes each.
        var entryIDs: Set<UUID> = []
        var counts: [String: VerifyReport.Counts] = [:]

        /// Checks one acknowledged page: its place in the chain, then its
        /// object.
        mutating func check(_ page: Page) async throws {
            acknowledgedKeys.insert(page.objectKey)
            counts[page.day, default: .init()].databasePages += 1
            counts[page.day, default: .init()].databaseEntries += page.rows
            checkChain(page)

            guard let object = try await storage.get(key: page.objectKey) else {
                return add(.missingObject, page, "object \(page.objectKey) of page \(page.id) is missing")
            }
            let body: [UInt8]
            do {
                body = try Gzip.decompress(object)
            } catch {
                return add(.unreadableObject, page, "object \(page.objectKey) cannot be read: \(error)")
            }
            counts[page.day, default: .init()].storedPages += 1
            let sha256 = SigV4.hexSHA256(body)
            if sha256 != page.sha256 {
                add(
                    .sha256Mismatch, page,
                    "object \(page.objectKey) was changed: its body's SHA-256 is "
                        + "\(Self.short(sha256)), page \(page.id) recorded \(Self.short(page.sha256))")
            }
            checkLines(of: body, page)
        }

        /// Checks that the page's recorded predecessor is the page
        /// acknowledged before it.
        private mutating func checkChain(_ page: Page) {
            switch (page.previousSHA256, page.priorID) {
            case (let previous?, _) where previous == page.priorSHA256:
                return
            case (let previous?, let prior?):
                add(
                    .chainBroken, page,
                    "chain broken at page \(page.id) (\(page.objectKey)): it follows "
                        + "\(Self.short(previous)) but the page acknowledged before it, \(prior), is "
                        + "\(Self.short(page.priorSHA256 ?? "")): a page is missing from the database or was changed")
            case (let previous?, nil):
                add(
                    .chainBroken, page,
                    "chain broken at page \(page.id) (\(page.objectKey)): it follows "
                        + "\(Self.short(previous)), which no acknowledged page in the database has: pages before it are missing"
                )
            case (nil, let prior):
                // ack() records no predecessor only for the first page after
                // the sink's state was made: at its creation, or replaced
                // by reanchor_if_foreign(), which records why.
                if let anchor, anchor.reason.hasPrefix("re-anchored"), page.followsAnchor {
                    let restored =
                        anchor.reason.contains("dump")
                        ? "; pages acknowledged before the restore are not in the database (auditlog.page is not"
                            + " dumped), so their objects show as unknown objects" : ""
                    add(
                        .chainRestart, page,
                        "chain \(prior == nil ? "starts" : "restarts") at page \(page.id)"
                            + " (\(page.objectKey)): the sink was \(anchor.reason) at \(anchor.at)\(restored)")
                } else if let prior {
                    add(
                        .unexplainedChainRestart, page,
                        "chain restarts at page \(page.id) (\(page.objectKey)) after"
                            + " page \(prior) with no re-anchor recorded there (the database keeps only the sink's latest"
                            + " anchor: \(anchor.map { "'\($0.reason)' at \($0.at)" } ?? "none"))")
                }
            }
        }

        /// Checks the lines of a page's body: their number, and that each is
        /// an entry of the page's stream and day seen in no other page.
        private mutating func checkLines(of body: [UInt8], _ page: Page) {
            var lines = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            if lines.last?.isEmpty == true { lines.removeLast() }
            counts[page.day, default: .init()].storedEntries += lines.count
            if lines.count != page.rows {
                add(
                    .rowCountMismatch, page,
                    "object \(page.objectKey) has \(lines.count) lines, page \(page.id)"
                        + " recorded \(page.rows) entries")
            }
            var issues: [VerifyReport.Kind: (count: Int, first: String)] = [:]
            func note(_ kind: VerifyReport.Kind, _ detail: @autoclosure () -> String) {
                issues[kind] = issues[kind].map { ($0.count + 1, $0.first) } ?? (1, detail())
            }
            let decoder = JSONDecoder()
            for (index, line) in lines.enumerated() {
                let number = index + 1
                guard let entry = try? decoder.decode(Line.self, from: Data(line)), let id = UUID(uuidString: entry.id)
                else {
                    note(.malformedLine, "line \(number) is not an entry with an id, stream and logged_at")
                    continue
                }
                if entry.loggedAt.count < 11 || entry.loggedAt.prefix(10) != page.day
                    || entry.loggedAt.dropFirst(10).first != "T"
                {
                    note(.wrongDay, "line \(number), entry \(entry.id), logged_at \(entry.loggedAt)")
                }
                if entry.stream != page.stream {
                    note(.wrongStream, "line \(number), entry \(entry.id), stream '\(entry.stream)'")
                }
                if !entryIDs.insert(id).inserted {
                    note(.duplicateEntry, "line \(number), entry \(entry.id)")
                }
            }
            let what: [VerifyReport.Kind: String] = [
                .malformedLine: "malformed lines",
                .wrongDay: "entries not logged on \(page.day)",
                .wrongStream: "entries not of stream '\(page.stream)'",
                .duplicateEntry: "entries already seen in an earlier page",
            ]
            for kind in [VerifyReport.Kind.malformedLine, .wrongDay, .wrongStream, .duplicateEntry] {
                guard let issue = issues[kind] else { continue }
                add(kind, page, "object \(page.objectKey) has \(issue.count) \(what[kind]!), first \(issue.first)")
            }
        }

        /// Lists the `dt=` folders of the sink's streams and reports the
        /// objects named for the sink in the days verified that no
        /// acknowledged page names; backfill objects are counted.
        mutating func listObjects(inFlight: String?, from: UTCDay?, to: UTCDay?) async throws {
            for stream in streams.sorted() {
                for key in try await storage.list(prefix: "\(stream)/dt=") {
                    guard let name = SinkObjectName(key: key, sink: report.sink), name.stream == stream,
                        from.map({ $0.description <= name.day }) ?? true, to.map({ name.day <= $0.description }) ?? true
                    else { continue }
                    switch name.owner {
                    case .backfill:
                        counts[name.day, default: .init()].backfillObjects += 1
                    case .page where acknowledgedKeys.contains(key):
                        continue
                    case .page(let id) where key == inFlight:
                        counts[name.day, default: .init()].unknownObjects += 1
                        report.findings.append(
                            .init(
                                kind: .pageInFlight, objectKey: key,
                                pageID: id.uuidString.lowercased(),
                                message:
                                    "object \(key) is the page in flight: stored, not acknowledged yet"))
                    case .page(let id):
                        counts[name.day, default: .init()].unknownObjects += 1
                        report.findings.append(
                            .init(
                                kind: .unknownObject, objectKey: key, pageID: id.uuidString.lowercased(),
                                message:
                                    "object \(key) is named for sink \(report.sink) but no acknowledged page names it"
                                    + " (exported again after a failover or a restore, left by a page in flight when the"
                                    + " sink was re-anchored, or copied)"))
                    }
                }
            }
            report.days = counts.keys.sorted().map { VerifyReport.Day(date: $0, counts: counts[$0]!) }
        }

        private mutating func add(_ kind: VerifyReport.Kind, _ page: Page, _ message: String) {
            report.findings.append(.init(kind: kind, objectKey: page.objectKey, pageID: page.id, message: message))
        }

        /// A SHA-256 shortened for messages.
        private static func short(_ sha256: String) -> String {
            String(sha256.prefix(12))
        }

        /// The fields of an NDJSON line that verification reads.
        private struct Line: Decodable {
            var id: String
            var stream: String
            var loggedAt: String

            enum CodingKeys: String, CodingKey {
                case id, stream
                case loggedAt = "logged_at"
            }
        }
    }
}
