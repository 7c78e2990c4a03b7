package org.driftml.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/** The CPU a benchmark ran on, as every side-by-side script prints it (issue 33): model and the ISA flags that pick
 * drift's and oneDNN's kernels. */
final class CpuInfo {
    private static final List<String> FLAGS = List.of("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
            "amx_tile", "amx_bf16");

    private CpuInfo() {}

    /** "cpu: MODEL; cores N; flags avx2 avx512f ...; lacks amx_bf16 ..." from /proc/cpuinfo. */
    static String describe() {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/cpuinfo"));
            String model = lines.stream().filter(l -> l.startsWith("model name")).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown");
            Set<String> has = Set.of(lines.stream().filter(l -> l.startsWith("flags")).findFirst().orElse("flags:")
                    .replaceFirst("^flags\\s*:", "").trim().split("\\s+"));
            String present = FLAGS.stream().filter(has::contains).collect(Collectors.joining(" "));
            String absent = FLAGS.stream().filter(f -> !has.contains(f)).collect(Collectors.joining(" "));
            return "cpu: " + model + "; " + Runtime.getRuntime().availableProcessors() + " cores; flags " + present
                    + (absent.isEmpty() ? "" : "; lacks " + absent)
                    + (System.getenv("AS_CPU") == null ? "" : "; standing in for an " + System.getenv("AS_CPU")
                            + " CPU (AS_CPU, benchmarks/scripts/bench-env.sh)");
        } catch (IOException e) {
            return "cpu: unknown (" + e.getMessage() + ")";
        }
    }
}
