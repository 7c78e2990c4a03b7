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
