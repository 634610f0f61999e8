import Glibc
import Synchronization

/// Per-pair relay settings (from the server block that owns the session).
public struct RelayOptions: Sendable, Equatable {
    /// nginx `proxy_buffer`: the most bytes held per direction.
    public var bufferSize: Int
    /// nginx `proxy_timeout`: close when neither direction moved for this long.
    public var idleTimeoutMillis: Int
    /// true: EOF from one side becomes shutdown(SHUT_WR) on the other once its
    /// bytes are delivered, and the pair closes when both directions ended.
    /// false: nginx's mail proxy behaviour, which closes the pair as soon as
    /// one side ended and its bytes were delivered.
    public var propagateHalfClose: Bool
    /// Move bytes with splice(2) through a pipe of about `bufferSize` when both
    /// endpoints are plain sockets: no copy through user space (about half the
    /// CPU per byte measured). Ignored when either endpoint is TLS.
    public var useSplice: Bool
    /// The most bytes a spliced direction holds in its pipe; nil: `bufferSize`.
    /// A pipe holds page references, not user-space copies, so it may exceed
    /// `proxy_buffer`: bench/run.sh measured 16 KiB pipes at twice nginx's CPU
    /// per GB on a 64 MB FETCH, 64 KiB pipes at about half of nginx's, and
    /// 256 KiB pipes at two thirds of that with 8 FETCHes in parallel.
    public var splicePipeSize: Int?

    /// How long a session thread that hands a pair over with a `RelayLocal`
    /// keeps relaying it itself before a relay thread takes it (see
    /// `RelayEngine.add(..., local:)`): the commands right after a login
    /// (LOGOUT, SELECT, QUIT) then cost no hand-off. 0: hand over at once.
    public var lingerMillis: Int

    public init(bufferSize: Int = 16 * 1024, idleTimeoutMillis: Int = 24 * 3_600_000, propagateHalfClose: Bool = true,
                useSplice: Bool = false, splicePipeSize: Int? = nil, lingerMillis: Int = 20) {
        self.lingerMillis = max(0, lingerMillis)
        self.bufferSize = max(bufferSize, 64)
        self.idleTimeoutMillis = idleTimeoutMillis
        self.propagateHalfClose = propagateHalfClose
        self.useSplice = useSplice
        self.splicePipeSize = splicePipeSize.map { max($0, 64) }
    }
}

public enum RelaySide: Sendable, Equatable { case client, backend }

/// Why a relayed pair ended (the session's final `reason=`).
public enum RelayCloseReason: Sendable, Equatable {
    /// The side ended its stream first (read end of stream).
    case closedBy(RelaySide)
    case idleTimeout
    case failed(RelaySide, Errno)
    /// Fast stop or `closeAll()`.
    case stopped
}

/// What a pair moved, reported once when it closes.
public struct RelayStats: Sendable, Equatable {
    public var bytesClientToBackend: UInt64
    public var bytesBackendToClient: UInt64
    public var duration: Duration
    public var reason: RelayCloseReason
}

/// Engine-wide live numbers, readable from any thread for status lines and tests.
final class RelayCounters: Sendable {
    let livePairs = Atomic<Int>(0)
    let buffersInUse = Atomic<Int>(0)
    let bufferedBytes = Atomic<Int>(0)
}

/// One direction of a pair: source → buffer → destination.
struct RelayDirection {
    var buffer: UnsafeMutableRawBufferPointer?
    var start = 0
    var end = 0
    /// Splice mode: the pipe (only while bytes are in it) and how many it holds.
    var pipe: RelayPipe?
    var pipePending = 0
    /// A splice into the pipe found no room although the pipe is not at its byte
    /// capacity (partly filled pages use up its slots): wait for a drain before
    /// polling the source again, or poll would report it readable forever.
    var pipeStalled = false
    var sourceEnded = false
    var shutdownSent = false
    var bytes: UInt64 = 0

    var pending: Int { pipe != nil ? pipePending : end - start }
    /// Room to read into: no buffer yet (one is taken on demand) or space left.
    func hasRoom(capacity: Int) -> Bool {
        if let pipe { return pipePending < min(pipe.capacity, capacity) && !pipeStalled }
        return buffer == nil || end < capacity || start > 0
    }
    var finished: Bool { sourceEnded && pending == 0 && shutdownSent }
}

/// A client/backend pair owned by one thread at a time: the session thread
/// while it lingers, then one relay thread. It crosses threads once, through
/// the relay thread's locked inbox, with any buffer or pipe it holds (they
/// are plain memory and descriptors; the relay thread's pool takes them back
/// when they empty); hence `@unchecked Sendable`.
final class RelayPair: @unchecked Sendable {
    let client: any RelayEndpoint
    let backend: any RelayEndpoint
    let options: RelayOptions
    let onClose: @Sendable (RelayStats) -> Void
    let startedAt: Int64
    var lastActivity: Int64
    var toBackend = RelayDirection()
    var toClient = RelayDirection()
    var firstEnded: RelaySide?
    var closeReason: RelayCloseReason?
    /// Both sides are plain sockets and splice was asked for.
    let splicing: (client: Int32, backend: Int32)?

    init(client: any RelayEndpoint, backend: any RelayEndpoint, options: RelayOptions,
         onClose: @escaping @Sendable (RelayStats) -> Void, now: Int64) {
        self.client = client
        self.backend = backend
        self.options = options
        self.onClose = onClose
        self.startedAt = now
        self.lastActivity = now
        if options.useSplice, let c = client.spliceDescriptor, let b = backend.spliceDescriptor {
            splicing = (c, b)
        } else {
            splicing = nil
        }
    }

    var idleDeadline: Int64 { lastActivity &+ Int64(options.idleTimeoutMillis) * 1_000_000 }

    /// poll events for the client and the backend descriptors. A side that is
    /// not to be read (its buffer toward the other side is full: back-pressure)
    /// and has nothing to be written gets no events at all.
    func pollEvents() -> (client: Int16, backend: Int16) {
        (events(for: client, reading: toBackend, writing: toClient),
         events(for: backend, reading: toClient, writing: toBackend))
    }

    private func events(for endpoint: any RelayEndpoint, reading: RelayDirection, writing: RelayDirection) -> Int16 {
        var e: Int16 = 0
        let wantsRead = !reading.sourceEnded && reading.hasRoom(capacity: reading.pipe != nil ? pipeSize : options.bufferSize)
        // A TLS read that must first write (SSL_ERROR_WANT_WRITE) waits for POLLOUT
        // only, and a write that must first read (SSL_ERROR_WANT_READ) for POLLIN
        // only: the socket is usually writable (or readable) all along, and asking
        // for the other event too would wake the loop on every round for nothing.
        if wantsRead { e |= endpoint.needsPollOutToRead ? Int16(POLLOUT) : Int16(POLLIN) }
        if writing.pending > 0 { e |= endpoint.needsPollInToWrite ? Int16(POLLIN) : Int16(POLLOUT) }
        return e
    }

    /// Whether a side has decrypted bytes waiting (TLS) and must be served without polling.
    /// Only counts while there is room to read into, or a full buffer would spin the loop.
    var hasBufferedInput: Bool {
        let capacity = options.bufferSize
        return (!toBackend.sourceEnded && toBackend.hasRoom(capacity: capacity) && client.hasBufferedInput)
            || (!toClient.sourceEnded && toClient.hasRoom(capacity: capacity) && backend.hasBufferedInput)
    }

    /// Moves bytes both ways after poll; sets `closeReason` when the pair is done.
    func service(clientEvents: Int16, backendEvents: Int16, pool: RelayBufferPool, counters: RelayCounters, now: Int64) {
        pump(&toBackend, from: client, fromSide: .client, to: backend, toSide: .backend,
             sourceReady: Self.readReady(client, clientEvents), destinationReady: Self.writeReady(backend, backendEvents),
             pool: pool, counters: counters, now: now)
        if closeReason != nil { return }
        pump(&toClient, from: backend, fromSide: .backend, to: client, toSide: .client,
             sourceReady: Self.readReady(backend, backendEvents), destinationReady: Self.writeReady(client, clientEvents),
             pool: pool, counters: counters, now: now)
        if closeReason != nil { return }

        if options.propagateHalfClose {
            if toBackend.finished && toClient.finished { closeReason = .closedBy(firstEnded ?? .client) }
        } else if let first = firstEnded {
            // nginx closes once the ended side's bytes have been delivered.
            let direction = first == .client ? toBackend : toClient
            if direction.pending == 0 { closeReason = .closedBy(first) }
        }
    }

    /// Whether poll's answer lets `endpoint` be read: POLLIN, or POLLOUT for a
    /// TLS endpoint whose read waits to write (see `pollEvents`).
    static func readReady(_ endpoint: any RelayEndpoint, _ events: Int16) -> Bool {
        if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 { return true }
        return endpoint.needsPollOutToRead && events & Int16(POLLOUT) != 0
    }

    /// Whether poll's answer lets `endpoint` be written: POLLOUT, or POLLIN for
    /// a TLS endpoint whose write waits to read.
    static func writeReady(_ endpoint: any RelayEndpoint, _ events: Int16) -> Bool {
        if events & Int16(POLLOUT | POLLHUP | POLLERR) != 0 { return true }
        return endpoint.needsPollInToWrite && events & Int16(POLLIN) != 0
    }

    /// Bounded rounds per wake-up so one busy pair cannot starve the others.
    private static let roundsPerWake = 8

    private func pump(_ d: inout RelayDirection, from source: any RelayEndpoint, fromSide: RelaySide,
                      to destination: any RelayEndpoint, toSide: RelaySide,
                      sourceReady: Bool, destinationReady: Bool,
                      pool: RelayBufferPool, counters: RelayCounters, now: Int64) {
        if let fds = splicing {
            let (sourceFD, destinationFD) = fromSide == .client ? (fds.client, fds.backend) : (fds.backend, fds.client)
            pumpSplice(&d, from: sourceFD, fromSide: fromSide, to: destinationFD, toSide: toSide,
                       sourceReady: sourceReady, destinationReady: destinationReady, pool: pool, counters: counters, now: now)
        } else {
            pumpBuffer(&d, from: source, fromSide: fromSide, to: destination, toSide: toSide,
                       sourceReady: sourceReady, destinationReady: destinationReady, pool: pool, counters: counters, now: now)
        }
        if d.sourceEnded && d.pending == 0 && !d.shutdownSent {
            d.shutdownSent = true
            // When the other way has already ended, the pair closes right after and
            // close(2) sends the FIN; a TLS side still gets its close_notify here.
            let otherWayFinished = (fromSide == .client ? toClient : toBackend).finished
            if options.propagateHalfClose && !(otherWayFinished && splicing != nil) { destination.shutdownWrite() }
        }
    }

    private func pumpBuffer(_ d: inout RelayDirection, from source: any RelayEndpoint, fromSide: RelaySide,
                            to destination: any RelayEndpoint, toSide: RelaySide,
                            sourceReady: Bool, destinationReady: Bool,
                            pool: RelayBufferPool, counters: RelayCounters, now: Int64) {
        var canRead = sourceReady || source.hasBufferedInput
        var canWrite = destinationReady
        let capacity = options.bufferSize
        for _ in 0..<Self.roundsPerWake {
            var progressed = false
            if d.pending > 0 && canWrite, let buffer = d.buffer {
                switch destination.write(from: UnsafeRawBufferPointer(rebasing: buffer[d.start..<d.end])) {
                case .transferred(let n):
                    d.start += n
                    d.bytes += UInt64(n)
                    lastActivity = now
                    counters.bufferedBytes.subtract(n, ordering: .relaxed)
                    progressed = n > 0
                    if d.pending == 0 { release(&d, pool: pool, counters: counters) }
                case .wouldBlock:
                    canWrite = false
                case .endOfStream:
                    fail(toSide, .brokenPipe); return
                case .failed(let e):
                    fail(toSide, e); return
                }
            }
            if !d.sourceEnded && canRead && d.hasRoom(capacity: capacity) {
                if d.buffer == nil {
                    d.buffer = pool.take(size: capacity)
                    counters.buffersInUse.add(1, ordering: .relaxed)
                } else if d.end == capacity, let buffer = d.buffer {
                    // Compact: slide the undelivered bytes to the front.
                    buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + d.start, byteCount: d.pending)
                    d.end = d.pending
                    d.start = 0
                }
                let buffer = d.buffer!
                let room = capacity - d.end
                switch source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[d.end..<capacity])) {
                case .transferred(let n):
                    d.end += n
                    lastActivity = now
                    counters.bufferedBytes.add(n, ordering: .relaxed)
                    progressed = n > 0
                    // Try to forward at once: the destination is usually writable.
                    canWrite = true
                    // Less than there was room for: the socket is empty. The next
                    // read waits for poll (level-triggered, so nothing is missed)
                    // instead of a system call that finds nothing, once per message
                    // of a conversation; nginx's recv does the same.
                    if n < room { canRead = source.hasBufferedInput }
                case .wouldBlock:
                    canRead = source.hasBufferedInput
                case .endOfStream:
                    d.sourceEnded = true
                    if firstEnded == nil { firstEnded = fromSide }
                case .failed(let e):
                    fail(fromSide, e); return
                }
                if d.pending == 0 && d.buffer != nil { release(&d, pool: pool, counters: counters) }
            }
            if !progressed { break }
        }
    }

    /// socket → pipe → socket with splice(2); the same rules as `pumpBuffer`.
    private func pumpSplice(_ d: inout RelayDirection, from source: Int32, fromSide: RelaySide,
                            to destination: Int32, toSide: RelaySide,
                            sourceReady: Bool, destinationReady: Bool,
                            pool: RelayBufferPool, counters: RelayCounters, now: Int64) {
        var canRead = sourceReady
        var canWrite = destinationReady
        for _ in 0..<Self.roundsPerWake {
            var progressed = false
            if d.pipePending > 0 && canWrite, let pipe = d.pipe {
                do throws(Errno) {
                    let n = try sysSplice(from: pipe.readFD, to: destination, length: d.pipePending)
                    d.pipePending -= n
                    d.bytes += UInt64(n)
                    d.pipeStalled = false
                    lastActivity = now
                    counters.bufferedBytes.subtract(n, ordering: .relaxed)
                    progressed = n > 0
                    if d.pipePending == 0 { releasePipe(&d, pool: pool, counters: counters) }
                } catch {
                    if error == .wouldBlock { canWrite = false } else { fail(toSide, error); return }
                }
            }
            if !d.sourceEnded && canRead && d.hasRoom(capacity: pipeSize) {
                if d.pipe == nil {
                    guard let pipe = pool.takePipe(size: pipeSize) else { fail(fromSide, .tooManyOpenFiles); return }
                    d.pipe = pipe
                    counters.buffersInUse.add(1, ordering: .relaxed)
                }
                let pipe = d.pipe!
                do throws(Errno) {
                    let room = min(pipe.capacity, pipeSize) - d.pipePending
                    let n = try sysSplice(from: source, to: pipe.writeFD, length: room)
                    if n == 0 {
                        d.sourceEnded = true
                        if firstEnded == nil { firstEnded = fromSide }
                    } else {
                        d.pipePending += n
                        lastActivity = now
                        counters.bufferedBytes.add(n, ordering: .relaxed)
                        progressed = true
                        canWrite = true
                        if n < room { canRead = false }  // emptied, as in pumpBuffer
                    }
                } catch {
                    guard error == .wouldBlock else { fail(fromSide, error); return }
                    canRead = false
                    if d.pipePending > 0 { d.pipeStalled = true }
                }
                if d.pipePending == 0 && d.pipe != nil { releasePipe(&d, pool: pool, counters: counters) }
            }
            if !progressed { break }
        }
    }

    /// Bytes in flight per spliced direction (see `RelayOptions.splicePipeSize`).
    private var pipeSize: Int { options.splicePipeSize ?? options.bufferSize }

    private func releasePipe(_ d: inout RelayDirection, pool: RelayBufferPool, counters: RelayCounters) {
        guard let pipe = d.pipe else { return }
        pool.givePipe(pipe, size: pipeSize, empty: d.pipePending == 0)
        counters.buffersInUse.subtract(1, ordering: .relaxed)
        d.pipe = nil
        d.pipePending = 0
        d.pipeStalled = false
    }

    private func release(_ d: inout RelayDirection, pool: RelayBufferPool, counters: RelayCounters) {
        guard let buffer = d.buffer else { return }
        pool.give(buffer)
        counters.buffersInUse.subtract(1, ordering: .relaxed)
        d.buffer = nil
        d.start = 0
        d.end = 0
    }

    /// A failure on a side that already ended its stream is that side's close
    /// (e.g. a client that closed fully resets the reply we were still sending).
    private func fail(_ side: RelaySide, _ error: Errno) {
        if firstEnded == side { closeReason = .closedBy(side) } else { closeReason = .failed(side, error) }
    }

    /// Closes both endpoints, returns the buffers and reports the stats. The one close path.
    func finish(reason: RelayCloseReason, pool: RelayBufferPool, counters: RelayCounters, now: Int64) {
        counters.bufferedBytes.subtract(toBackend.pending + toClient.pending, ordering: .relaxed)
        release(&toBackend, pool: pool, counters: counters)
        release(&toClient, pool: pool, counters: counters)
        releasePipe(&toBackend, pool: pool, counters: counters)
        releasePipe(&toClient, pool: pool, counters: counters)
        client.close()
        backend.close()
        counters.livePairs.subtract(1, ordering: .relaxed)
        onClose(RelayStats(bytesClientToBackend: toBackend.bytes, bytesBackendToClient: toClient.bytes,
                           duration: .nanoseconds(now - startedAt), reason: reason))
    }
}
