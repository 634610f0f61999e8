import CNetShims
import Glibc

/// A started thread that can be joined once.
public struct ThreadHandle: Sendable {
    let thread: pthread_t

    /// Waits for the thread's body to return.
    public func join() { pthread_join(thread, nil) }
}

/// Starts a joinable pthread running `body`.
///
/// pthread rather than Foundation.Thread (no Foundation in the server) and not
/// Swift concurrency (blocking sessions would starve the cooperative pool).
/// The closure crosses into C through a retained box. `name` shows in `top -H`
/// (15 bytes at most, as Linux truncates). Signals stay blocked in new threads
/// because they inherit the mask set by `Signals.blockProcessSignals()`.
@discardableResult
public func startThread(name: String, stackSize: Int = 512 * 1024, _ body: @escaping @Sendable () -> Void) -> ThreadHandle {
    final class Box: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) { self.name = name; self.body = body }
    }
    let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, max(stackSize, Int(PTHREAD_STACK_MIN)))
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attributes, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        _ = String(box.name.prefix(15)).withCString { cnet_set_thread_name($0) }
        box.body()
        return nil
    }, box)
    // Out of threads at start-up is not recoverable for a server.
    precondition(rc == 0, "pthread_create failed: \(Errno(rc))")
    return ThreadHandle(thread: thread)
}
