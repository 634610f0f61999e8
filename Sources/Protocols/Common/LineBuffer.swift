/// A bounded reader of CRLF- or LF-terminated lines.
///
/// Bytes are appended as they arrive; complete lines are taken from the
/// front. When `limit` bytes are buffered and none of them is a line feed,
/// the peer is sending a line we will never accept: `nextLine()` reports
/// `.lineTooLong` instead of growing the buffer (nginx's mail buffers behave
/// the same way: a full buffer without a command is "too long command").
public struct LineBuffer: Sendable {
    public enum Next: Sendable, Equatable {
        /// A complete line without its CRLF or LF.
        case line([UInt8])
        /// No complete line yet; append more bytes.
        case needMoreBytes
        /// `limit` bytes are buffered and none ends a line.
        case lineTooLong
    }

    /// The most bytes one line may take, terminator included.
    public let limit: Int
    private var storage: [UInt8] = []
    private var start = 0

    public init(limit: Int) {
        precondition(limit > 0, "a line buffer needs room for at least one byte")
        self.limit = limit
    }

    /// Bytes buffered and not yet taken.
    public var count: Int { storage.count - start }

    /// True when no byte is waiting.
    public var isEmpty: Bool { count == 0 }

    /// How many more bytes fit before the buffer is full; a driver reads at
    /// most this many so memory stays bounded.
    public var freeSpace: Int { max(0, limit - count) }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        storage.append(contentsOf: bytes)
    }

    /// Takes the next complete line, or says why there is none.
    public mutating func nextLine() -> Next {
        let end = min(storage.count, start + limit)
        // firstIndex(of:) on the contiguous bytes: a bounds-checked loop
        // over the subscript cost ten times as much per byte.
        let from = start
        let found = storage.withUnsafeBufferPointer { bytes in
            UnsafeBufferPointer(rebasing: bytes[from..<end]).firstIndex(of: 0x0A).map { $0 + from }
        }
        guard let i = found else { return count >= limit ? .lineTooLong : .needMoreBytes }
        var lineEnd = i
        if lineEnd > start && storage[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        let line = Array(storage[start..<lineEnd])
        start = i + 1
        compactIfWorthIt()
        return .line(line)
    }

    /// Removes and returns every buffered byte (for instance what a client
    /// pipelined behind its login, to be relayed to the backend).
    public mutating func takeAll() -> [UInt8] {
        let rest = Array(storage[start...])
        storage.removeAll(keepingCapacity: false)
        start = 0
        return rest
    }

    /// Forgets every buffered byte (RFC 3207 §4.2 / RFC 2595 §3.1: nothing
    /// pipelined behind STARTTLS may be acted on after the handshake).
    public mutating func discardAll() {
        storage.removeAll(keepingCapacity: false)
        start = 0
    }

    private mutating func compactIfWorthIt() {
        if start == storage.count {
            storage.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 4096 && start * 2 > storage.count {
            storage.removeFirst(start)
            start = 0
        }
    }
}
