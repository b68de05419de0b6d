import Foundation

/// A thread of one connection's own, and the serial executor that runs the
/// connection's work on it.
///
/// libpq blocks its caller until the server answers, which may take as long
/// as the slowest statement. On Swift's cooperative pool, which has about
/// one thread per core, that would hold up every other task in the process,
/// such as the HTTP server a daemon runs beside its passes; on a thread of
/// its own it holds up only the connection's callers, who wait without
/// blocking.
final class ConnectionThread: SerialExecutor, @unchecked Sendable {
    // The queue and `stopping` are guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []
    private var stopping = false

    /// Starts the thread.
    init(name: String) {
        let thread = Thread { [self] in runUntilStopped() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        submit { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Runs `body` on the thread, after the work already queued, and returns
    /// its result.
    func run<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result(catching: body)) }
        }
    }

    /// Lets the thread end once the work queued so far is done.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    /// Queues `work` to run on the thread after the work queued before it.
    func submit(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(work)
        condition.signal()
        condition.unlock()
    }

    private func runUntilStopped() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping {
                condition.wait()
            }
            guard !queue.isEmpty else {
                condition.unlock()
                return
            }
            let work = queue.removeFirst()
            condition.unlock()
            work()
        }
    }
}
