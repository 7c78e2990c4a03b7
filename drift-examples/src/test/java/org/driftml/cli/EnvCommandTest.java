package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class EnvCommandTest {
    @Test
    void reportsTheRuntimeAndPassesTheSelfCheck() {
        StringWriter text = new StringWriter();
        CommandLine cli = Drift.commandLine();
        cli.setOut(new PrintWriter(text));
        int code = cli.execute("env");
        String out = text.toString();
        assertEquals(0, code, out);
        assertTrue(out.contains("LibTorch              2.13.0"), out);
        assertTrue(out.contains("OMP_WAIT_POLICY"), out);
        assertTrue(out.contains("fused ops             ok"), out);
        // The bf16 GEMM path follows the CPU's flags as the kernel reports them (issue 33).
        String flags = "";
        try {
            flags = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo")).stream()
                    .filter(l -> l.startsWith("flags")).findFirst().orElse("");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        java.util.Set<String> has = java.util.Set.of(flags.replaceFirst("^flags\\s*:", "").trim().split("\\s+"));
        String expected = has.contains("amx_bf16") ? "AMX" : has.contains("avx512_bf16") ? "AVX512_BF16" : "WIDEN";
        if (System.getenv("ONEDNN_MAX_CPU_ISA") == null && System.getenv("DRIFT_BF16_GEMM") == null) {
            assertTrue(out.contains("bf16 GEMMs            " + expected + " (this CPU's best)"), out);
            // The switches, read when the natives load: drift's own picks a path below the best; oneDNN's cap lowers
            // the best itself (AVX2: no bf16 dot products for oneDNN, so WIDEN).
            assertTrue(env(java.util.Map.of("DRIFT_BF16_GEMM", "widen")).contains("bf16 GEMMs            WIDEN"
                    + (expected.equals("WIDEN") ? " (this CPU's best)" : " (DRIFT_BF16_GEMM; this CPU's best: "
                    + expected + ")")));
            assertTrue(env(java.util.Map.of("ONEDNN_MAX_CPU_ISA", "AVX2")).contains(
                    "bf16 GEMMs            WIDEN (this CPU's best)"));
        }
    }

    /** {@code drift env} in a JVM of its own with {@code vars} in its environment. */
    private static String env(java.util.Map<String, String> vars) {
        try {
            ProcessBuilder b = new ProcessBuilder(CliRun.javaCommand("env")).redirectErrorStream(true);
            b.environment().putAll(vars);
            Process p = b.start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), out);
            assertEquals(0, p.exitValue(), out);
            System.out.println(vars + ": " + out.lines().filter(l -> l.startsWith("bf16 GEMMs")).findFirst()
                    .orElse(out));
            return out;
        } catch (java.io.IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void unknownSubcommandIsAUsageError() {
        StringWriter err = new StringWriter();
        CommandLine cli = Drift.commandLine();
        cli.setErr(new PrintWriter(err));
        assertEquals(2, cli.execute("frobnicate"));
        assertTrue(err.toString().contains("Unmatched argument"), err.toString());
    }
}
