/// Buffers for one relay thread. A pair takes a buffer only while bytes are in
/// flight in that direction and gives it back as soon as it is empty, so an
/// idle pair (an IMAP IDLE session) holds no buffer. A few spares per size are
/// kept to avoid malloc/free on every burst.
final class RelayBufferPool {
    private var spares: [Int: [UnsafeMutableRawBufferPointer]] = [:]
    private let sparesPerSize: Int
    private(set) var inUse = 0

    init(sparesPerSize: Int = 8) { self.sparesPerSize = sparesPerSize }

    deinit {
        for (_, list) in spares { for b in list { b.deallocate() } }
    }

    var spareCount: Int { spares.values.reduce(0) { $0 + $1.count } }

    func take(size: Int) -> UnsafeMutableRawBufferPointer {
        inUse += 1
        if var list = spares[size], let b = list.popLast() {
            spares[size] = list
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
