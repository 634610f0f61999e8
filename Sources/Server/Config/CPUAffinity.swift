/// `worker_cpu_affinity`: the CPUs nginx binds its worker processes to.
/// Postern is one process, so it takes what nginx gives its first worker.
public enum CPUAffinity: Sendable, Equatable {
    /// One set of CPU numbers per worker process, in order (`0101 1010`).
    case masks([[Int]])
    /// `auto [MASK]`: worker N on the N-th CPU of MASK, or of all CPUs.
    case auto(limit: [Int]?)

    /// glibc's CPU_SETSIZE: the most CPUs a mask may name, as in nginx.
    static let maxCPUs = 1024

    /// Parses the directive's arguments; the error text is nginx's.
    static func parse(_ args: [String]) -> Result<CPUAffinity, CPUAffinityError> {
        if args.first == "auto" {
            guard args.count <= 2 else {
                return .failure(CPUAffinityError("invalid number of arguments in \"worker_cpu_affinity\" directive"))
            }
            guard args.count == 2 else { return .success(.auto(limit: nil)) }
            return cpus(inMask: args[1]).map { .auto(limit: $0) }
        }
        var masks: [[Int]] = []
        for arg in args {
            switch cpus(inMask: arg) {
            case .success(let set): masks.append(set)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(.masks(masks))
    }

    /// The CPU numbers of a mask written as bits, CPU 0 rightmost; spaces
    /// (inside quotes) are skipped, as nginx does.
    static func cpus(inMask mask: String) -> Result<[Int], CPUAffinityError> {
        guard mask.utf8.count <= maxCPUs else {
            return .failure(CPUAffinityError("\"worker_cpu_affinity\" supports up to \(maxCPUs) CPUs only"))
        }
        var set: [Int] = []
        var bit = 0
        for character in mask.reversed() where character != " " {
            switch character {
            case "0": break
            case "1": set.append(bit)
            default:
                return .failure(CPUAffinityError("invalid character \"\(character)\" in \"worker_cpu_affinity\""))
            }
            bit += 1
        }
        return .success(set.sorted())
    }

    /// The CPUs for worker `worker` (Postern: 0) when `online` CPUs exist:
    /// its own mask or else the last one; with `auto`, the worker-th CPU of
    /// the limit, counted round. Empty when the mask names no CPU.
    func cpus(forWorker worker: Int, online: Int) -> [Int] {
        switch self {
        case .masks(let masks):
            guard let last = masks.last else { return [] }
            return worker < masks.count ? masks[worker] : last
        case .auto(let limit):
            let pool = limit ?? Array(0..<max(1, min(online, Self.maxCPUs)))
            guard !pool.isEmpty else { return [] }
            return [pool[worker % pool.count]]
        }
    }
}

/// A `worker_cpu_affinity` value nginx would refuse; `text` is its message.
public struct CPUAffinityError: Error, Sendable, Equatable {
    public let text: String
    init(_ text: String) { self.text = text }
}
