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

    @Test
    void javacppsPhysicalMemoryLimitIsOffUnlessTheUserSetsOne() throws Exception {
        // Without drift's default this would be 4 x 256 MB: a run whose tensors pass 1 GB would die.
        assertEquals("0", probe());
        assertEquals(String.valueOf(3L << 30), probe("-Dorg.bytedeco.javacpp.maxPhysicalBytes=3g"));
    }
}
