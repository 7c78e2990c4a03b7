package org.driftml.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class NativeRuntimeDefaultsTest {
    static String probe(String... jvmArgs) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx256m"));
        cmd.addAll(List.of(jvmArgs));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), MaxPhysicalBytesProbe.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor(), out);
        return out.lines().reduce((a, b) -> b).orElse("");
    }

    /** The libgomp settings as the C library sees them, in a JVM started with or without the user's own. */
    static String envProbe(java.util.Map<String, String> userEnv) throws Exception {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), EnvDefaultsProbe.class.getName(), "OMP_WAIT_POLICY",
                "GOMP_SPINCOUNT");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false);
        pb.environment().remove("OMP_WAIT_POLICY");
        pb.environment().remove("GOMP_SPINCOUNT");
        pb.environment().putAll(userEnv);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor(), out);
        return out.lines().reduce((a, b) -> b).orElse("");
    }

    @Test
    void libgompWaitsPassivelyAfterAShortSpinUnlessTheUserSaysOtherwise() throws Exception {
        assertEquals("OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=8000", envProbe(java.util.Map.of()));
        assertEquals("OMP_WAIT_POLICY=ACTIVE GOMP_SPINCOUNT=8000",
                envProbe(java.util.Map.of("OMP_WAIT_POLICY", "ACTIVE")));
        assertEquals("OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=0", envProbe(java.util.Map.of("GOMP_SPINCOUNT", "0")));
    }

    @Test
    void javacppsPhysicalMemoryLimitIsOffUnlessTheUserSetsOne() throws Exception {
        // Without drift's default this would be 4 x 256 MB: a run whose tensors pass 1 GB would die.
        assertEquals("0", probe());
        assertEquals(String.valueOf(3L << 30), probe("-Dorg.bytedeco.javacpp.maxPhysicalBytes=3g"));
    }
}
