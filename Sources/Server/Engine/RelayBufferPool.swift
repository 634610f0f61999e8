/// A kernel pipe that carries one direction of a spliced pair.
struct RelayPipe {
    let readFD: Int32
    let writeFD: Int32
    /// What the kernel granted for F_SETPIPE_SZ (a power-of-two number of pages).
    let capacity: Int

    /// A non-blocking pipe sized near `size`, or nil when descriptors ran out.
    static func make(size: Int) -> RelayPipe? {
        guard let (r, w) = try? sysPipe() else { return nil }
        // Linux's default is 64 KiB; shrinking it bounds what one pair holds.
        let granted = (try? sysSetPipeSize(w, Int32(size))).map(Int.init) ?? 65536
        return RelayPipe(readFD: r, writeFD: w, capacity: granted)
    }

    func close() {
        sysClose(readFD)
        sysClose(writeFD)
    }
}

/// Buffers for one relay thread. A pair takes a buffer only while bytes are in
/// flight in that direction and gives it back as soon as it is empty, so an
/// idle pair (an IMAP IDLE session) holds no buffer. A few spares per size are
/// kept to avoid malloc/free on every burst.
final class RelayBufferPool {
    private var spares: [Int: [UnsafeMutableRawBufferPointer]] = [:]
    private var sparePipes: [Int: [RelayPipe]] = [:]
    private let sparesPerSize: Int
    private(set) var inUse = 0

    init(sparesPerSize: Int = 8) { self.sparesPerSize = sparesPerSize }

    deinit {
        for (_, list) in spares { for b in list { b.deallocate() } }
        for (_, list) in sparePipes { for p in list { p.close() } }
    }

    /// An empty pipe for splicing, keyed by the requested size.
    func takePipe(size: Int) -> RelayPipe? {
        // Popped in place: copying the list out and back made a new array every time.
        if let p = sparePipes[size]?.popLast() {
            inUse += 1
            return p
        }
        guard let p = RelayPipe.make(size: size) else { return nil }
        inUse += 1
        return p
    }

    /// Takes back a pipe; only an empty one may be reused, a pipe still holding
    /// bytes (pair closed mid-transfer) is closed.
    func givePipe(_ pipe: RelayPipe, size: Int, empty: Bool) {
        inUse -= 1
        if empty && sparePipes[size, default: []].count < sparesPerSize {
            sparePipes[size, default: []].append(pipe)
        } else {
            pipe.close()
        }
    }

    var spareCount: Int { spares.values.reduce(0) { $0 + $1.count } }

    func take(size: Int) -> UnsafeMutableRawBufferPointer {
        inUse += 1
        if let b = spares[size]?.popLast() {
            return b
        }
        return UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    }

    func give(_ buffer: UnsafeMutableRawBufferPointer) {
        inUse -= 1
        if spares[buffer.count, default: []].count < sparesPerSize {
            spares[buffer.count, default: []].append(buffer)
        } else {
            buffer.deallocate()
        }
    }
}
