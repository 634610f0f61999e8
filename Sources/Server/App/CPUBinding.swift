import CNetShims
import Glibc

/// Applies `worker_cpu_affinity` to the whole process, as nginx applies it to
/// its first worker: every thread running now, and by inheritance every
/// thread started later. Used from the main thread only (start and reload).
final class CPUBinding {
    /// What the process could run on before the directive bound it, so a
    /// reload that drops the directive gives those CPUs back.
    private let startupCPUs: [Int]
    private var bound = false

    init() {
        var cpus = [Int32](repeating: 0, count: CPUAffinity.maxCPUs)
        let count = cnet_allowed_cpus(&cpus, Int32(cpus.count))
        startupCPUs = count > 0 ? cpus.prefix(Int(count)).map(Int.init) : []
    }

    /// Binds the process to `affinity`'s CPUs; nil leaves it alone unless an
    /// earlier configuration bound it. A refusal is logged and serving goes
    /// on unbound, as nginx does.
    func apply(_ affinity: CPUAffinity?, log: ErrorLog) {
        let cpus: [Int]
        if let affinity {
            cpus = affinity.cpus(forWorker: 0, online: sysconf(Int32(_SC_NPROCESSORS_ONLN)))
            for cpu in cpus { log.log(.notice, "sched_setaffinity(): using cpu #\(cpu)") }
        } else {
            guard bound, !startupCPUs.isEmpty else { return }
            cpus = startupCPUs
        }
        let list = cpus.map(Int32.init)
        if cnet_bind_all_threads(list, Int32(list.count)) != 0 {
            log.log(.alert, "sched_setaffinity() failed", error: Errno(errno))
            return
        }
        bound = affinity != nil
    }
}
