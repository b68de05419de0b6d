/// How often and how patiently ``S3Storage`` retries a request that failed
/// for a reason that may pass: a 5xx or 429 status (`SlowDown` among them)
/// or a connection error.
public struct S3RetryPolicy: Sendable, Equatable {
    /// The most attempts, the first one included.
    public var maxAttempts: Int
    /// The ceiling of the first delay; each retry doubles it.
    public var baseDelay: Duration
    /// The highest ceiling of a delay.
    public var maxDelay: Duration

    /// Creates a policy; the default makes 5 attempts over at most about
    /// 3 seconds of waiting.
    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(5)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The wait before attempt `attempt + 1`: a random time between zero
    /// and `min(maxDelay, baseDelay × 2^(attempt − 1))` ("full jitter"), so
    /// runners that failed together do not retry together.
    public func delay(after attempt: Int) -> Duration {
        let ceiling = min(maxDelay, baseDelay * (1 << min(max(attempt - 1, 0), 20)))
        return ceiling * Double.random(in: 0...1)
    }
}
