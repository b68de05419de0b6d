import Logging

extension LogEvent {
    /// The metadata to log with this event: the handler's own, then its
    /// provider's, then the event's, later ones winning on equal keys.
    func mergedMetadata(handler: Logger.Metadata, provider: Logger.MetadataProvider?) -> Logger.Metadata {
        var merged = handler
        if let provided = provider?.get() {
            merged.merge(provided) { $1 }
        }
        if let metadata {
            merged.merge(metadata) { $1 }
        }
        return merged
    }
}
