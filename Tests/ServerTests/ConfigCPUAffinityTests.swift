import Testing
@testable import Server

/// `worker_cpu_affinity` read as nginx reads it; Postern takes its first worker's CPUs.
struct ConfigCPUAffinityTests {
    @Test func masksAreReadRightToLeft() {
        #expect(CPUAffinity.parse(["0101", "1010"]) == .success(.masks([[0, 2], [1, 3]])))
        #expect(CPUAffinity.parse(["0000 0001"]) == .success(.masks([[0]])))
        #expect(CPUAffinity.parse(["auto"]) == .success(.auto(limit: nil)))
        #expect(CPUAffinity.parse(["auto", "1100"]) == .success(.auto(limit: [2, 3])))
    }

    @Test func nginxRefusesWhatItRefuses() {
        #expect(CPUAffinity.parse(["01x"]) == .failure(CPUAffinityError("invalid character \"x\" in \"worker_cpu_affinity\"")))
        #expect(CPUAffinity.parse(["auto", "01", "10"])
                == .failure(CPUAffinityError("invalid number of arguments in \"worker_cpu_affinity\" directive")))
        #expect(CPUAffinity.parse([String(repeating: "1", count: 1025)])
                == .failure(CPUAffinityError("\"worker_cpu_affinity\" supports up to 1024 CPUs only")))
    }

    @Test func firstWorkerGetsItsCPUs() {
        #expect(CPUAffinity.masks([[0, 2], [1, 3]]).cpus(forWorker: 0, online: 4) == [0, 2])
        // Fewer masks than workers: the last mask serves the rest.
        #expect(CPUAffinity.masks([[0, 2], [1, 3]]).cpus(forWorker: 5, online: 4) == [1, 3])
        #expect(CPUAffinity.auto(limit: nil).cpus(forWorker: 0, online: 2) == [0])
        #expect(CPUAffinity.auto(limit: nil).cpus(forWorker: 3, online: 2) == [1])
        #expect(CPUAffinity.auto(limit: [2, 3]).cpus(forWorker: 0, online: 4) == [2])
        #expect(CPUAffinity.masks([[]]).cpus(forWorker: 0, online: 2) == [])
    }

    @Test func directiveInTheMainContext() {
        let config = parsedConfig("worker_cpu_affinity 01 10;\n" + minimalMail)
        #expect(config?.main.workerCPUAffinity == .masks([[0], [1]]))
        #expect(parsedConfig(minimalMail)?.main.workerCPUAffinity == nil)
    }

    @Test func configErrorsCarryFileAndLine() {
        let f = testConfigFile
        #expect(configErrors("\nworker_cpu_affinity 0z1;\n" + minimalMail)
                == ["invalid character \"z\" in \"worker_cpu_affinity\" in \(f):2"])
        #expect(configErrors("worker_cpu_affinity 01;\nworker_cpu_affinity 10;\n" + minimalMail)
                == ["\"worker_cpu_affinity\" directive is duplicate in \(f):2"])
        #expect(configErrors("worker_cpu_affinity auto 01 10;\n" + minimalMail)
                == ["invalid number of arguments in \"worker_cpu_affinity\" directive in \(f):1"])
    }
}
