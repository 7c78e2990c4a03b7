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
