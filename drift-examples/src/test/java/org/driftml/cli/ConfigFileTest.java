package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

class ConfigFileTest {
    @Command(name = "probe")
    static final class Probe implements Runnable {
        @Spec CommandSpec spec;
        @Option(names = "--learning-rate") Double learningRate;
        @Option(names = "--iterations") Integer iterations;
        @Option(names = "--method") String method;
        @Option(names = "--resume") boolean resume;
        @Option(names = "--output") Path output;

        @Override
        public void run() {}
    }

    private static Probe parse(Path config, String... args) throws Exception {
        Probe probe = new Probe();
        CommandLine cl = new CommandLine(probe);
        cl.parseArgs(args);
        ConfigFile.apply(probe.spec, config);
        return probe;
    }

    @Test
    void yamlAndJsonFillWhatTheCommandLineLeftUnset(@TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("train.yaml");
        Files.writeString(yaml, "# the paper's iteration recipe\nlearning_rate: 5.0e-7\niterations: 2\n"
                + "method: spin\nresume: true\noutput: runs/a\n");
        Probe p = parse(yaml, "--iterations", "3");
        assertEquals(5.0e-7, p.learningRate);
        assertEquals(3, p.iterations);  // the command line wins
        assertEquals("spin", p.method);
        assertTrue(p.resume);
        assertEquals(Path.of("runs/a"), p.output);

        Path json = dir.resolve("train.json");
        Files.writeString(json, "{\"learning-rate\": \"1e-3\", \"iterations\": 4}");
        Probe q = parse(json);
        assertEquals(1e-3, q.learningRate);
        assertEquals(4, q.iterations);
    }

    @Test
    void mistakesNameTheFileAndTheKey(@TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("bad.yml");
        Files.writeString(yaml, "iterations: two\n");
        var e = assertThrows(CommandLine.ParameterException.class, () -> parse(yaml));
        assertEquals(yaml + ": \"iterations\" = \"two\" is not a valid Integer", e.getMessage());

        Files.writeString(yaml, "learning-rat: 1\n");
        e = assertThrows(CommandLine.ParameterException.class, () -> parse(yaml));
        assertTrue(e.getMessage().startsWith(yaml + ": unknown setting \"learning-rat\""), e.getMessage());

        Files.writeString(yaml, "iterations: 2\n  method: [\n");
        e = assertThrows(CommandLine.ParameterException.class, () -> parse(yaml));
        assertTrue(e.getMessage().startsWith(yaml + ":2: not valid YAML"), e.getMessage());

        Files.writeString(yaml, "- 1\n- 2\n");
        e = assertThrows(CommandLine.ParameterException.class, () -> parse(yaml));
        assertTrue(e.getMessage().contains("expected a mapping"), e.getMessage());
        // Issue 32: a key given twice, and anything after the mapping, are refused (they were silently taken).
        Files.writeString(yaml, "iterations: 2\niterations: 3\n");
        e = assertThrows(CommandLine.ParameterException.class, () -> parse(yaml));
        assertTrue(e.getMessage().startsWith(yaml + ":2: not valid YAML") && e.getMessage().contains("iterations"),
                e.getMessage());
        Path json = dir.resolve("bad.json");
        Files.writeString(json, "{\"iterations\": 2, \"iterations\": 3}");
        e = assertThrows(CommandLine.ParameterException.class, () -> parse(json));
        assertTrue(e.getMessage().startsWith(json + ":1: not valid JSON") && e.getMessage().contains("iterations"),
                e.getMessage());
        Files.writeString(json, "{\"iterations\": 2} garbage");
        e = assertThrows(CommandLine.ParameterException.class, () -> parse(json));
        assertTrue(e.getMessage().startsWith(json + ":1: not valid JSON"), e.getMessage());
    }
}
