import Dispatch

@testable import AuditlogKit

/// Runs `work` to its end from synchronous code that cannot await, such as
/// a `defer` block or an `atexit` handler.
///
/// The work runs on a thread of its own, as its task executor: waiting for
/// it on one of Swift's shared threads must not leave the work needing that
/// thread, or waiting for the other shared threads that other tests may be
/// blocking the same way.
func waitUntilDone(_ work: @escaping @Sendable () async -> Void) {
    let executor = TeardownExecutor()
    let done = DispatchSemaphore(value: 0)
    Task(executorPreference: executor) {
        await work()
        done.signal()
    }
    done.wait()
    executor.thread.stop()
}

/// A task executor that runs every job on one ``ConnectionThread``.
private final class TeardownExecutor: TaskExecutor {
    let thread = ConnectionThread(name: "test teardown")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        thread.submit { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
