package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DriftCommandsTest {
    static final List<String> LOGS = List.of(
            "{\"UtterranceId\": 0, \"Role\": \"User\", \"Content\": \"2+2?\", \"Satisfaction\": false, \"Disatisfaction\": false}",
            "{\"UtterranceId\": 1, \"Role\": \"Agent\", \"Content\": \"5\", \"Satisfaction\": false, \"Disatisfaction\": false}",
            "{\"UtterranceId\": 2, \"Role\": \"User\", \"Content\": \"wrong\", \"Satisfaction\": false, \"Disatisfaction\": true}",
            "{\"UtterranceId\": 3, \"Role\": \"Agent\", \"Content\": \"4\", \"Satisfaction\": false, \"Disatisfaction\": false}",
            "{\"UtterranceId\": 4, \"Role\": \"User\", \"Content\": \"thanks\", \"Satisfaction\": true, \"Disatisfaction\": false}",
            "{\"UtterranceId\": 0, \"Role\": \"User\", \"Content\": \"hi\", \"Satisfaction\": false, \"Disatisfaction\": false}",
            "{\"UtterranceId\": 1, \"Role\": \"Agent\", \"Content\": \"bye\", \"Satisfaction\": false, \"Disatisfaction\": false}",
            "{\"UtterranceId\": 2, \"Role\": \"User\", \"Content\": \"rude!\", \"Satisfaction\": false, \"Disatisfaction\": true}");

    // fp32: the tiny fixture's runs compare models within round-off; the recipe's bf16 is exercised on its own.
    static final String[] SMALL = {"--dtype", "float32", "--max-new-tokens", "6", "--batch-size", "1",
        "--learning-rate", "1e-3", "--max-prompt-length", "256", "--max-length", "320", "--generation-batch", "1",
        "--save-steps", "1"};

    static String[] args(String command, Path mined, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of(command, "--model", CliRun.parity("tiny-qwen2-chat").toString(),
                "--data", mined.toString(), "--output", out.toString()));
        a.addAll(List.of(SMALL));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    static Path mine(Path dir) throws Exception {
        Path logs = dir.resolve("logs.jsonl");
        Files.write(logs, LOGS);
        CliRun run = CliRun.of("", "mine", "--logs", logs.toString(), "--output", dir.resolve("mined").toString());
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("DSAT items                              2"), run.out());
        assertTrue(run.out().contains("seed pairs                              1"), run.out());
        return dir.resolve("mined");
    }

    @Test
    void mineNamesBadRecordsAndExitsTwoOrSkipsThem(@TempDir Path dir) throws Exception {
        Path logs = dir.resolve("logs.jsonl");
        List<String> bad = new ArrayList<>(LOGS);
        bad.set(3, "{\"UtterranceId\": 3, \"Role\": \"Agent\"}");
        Files.write(logs, bad);
        CliRun fail = CliRun.of("", "mine", "--logs", logs.toString(), "--output", dir.resolve("m").toString());
        assertEquals(2, fail.code());
        assertTrue(fail.err().contains(logs + ":line 4: field \"Content\": missing"), fail.err());
        assertFalse(Files.exists(dir.resolve("m/dsat.jsonl")));
        CliRun skip = CliRun.of("", "mine", "--logs", logs.toString(), "--output", dir.resolve("m").toString(),
                "--on-bad-record", "skip");
        assertEquals(0, skip.code(), skip.err());
        assertTrue(skip.err().contains("1 skipped"), skip.err());
        assertTrue(skip.err().contains("skipped " + logs + ":line 4"), skip.err());
    }

    /** The release's dsat_data.jsonl alone has no seed pairs: the paper's warm start cannot run, and train says so. */
    @Test
    void trainWithoutSeedPairsNeedsNoWarmStartNamed(@TempDir Path dir) throws Exception {
        Path dsat = dir.resolve("dsat_data.jsonl");
        Files.writeString(dsat, "{\"prompt\": [{\"role\": \"user\", \"content\": \"2+2?\"}], \"rejected\": "
                + "[{\"role\": \"assistant\", \"content\": \"5\"}], \"user_preference\": {\"role\": \"user\", "
                + "\"content\": \"Wrong.\"}}\n");
        CliRun mine = CliRun.of("", "mine", "--logs", dsat.toString(), "--format", "dsat", "--output",
                dir.resolve("mined").toString());
        assertEquals(0, mine.code(), mine.err());
        Path out = dir.resolve("run");
        CliRun train = CliRun.of("", args("train", dir.resolve("mined"), out, "--iterations", "1"));
        assertEquals(2, train.code(), train.err());
        assertTrue(train.err().contains("holds no DSAT-to-SAT seed pairs") && train.err().contains("--no-warm-start"),
                train.err());
        assertTrue(Files.notExists(out), "refused before the output folder is made");
    }

    @Test
    void warmstartThenTrainContinuesTheSameRun(@TempDir Path dir) throws Exception {
        Path mined = mine(dir);
        Path out = dir.resolve("run");
        CliRun warm = CliRun.of("", args("warmstart", mined, out));
        assertEquals(0, warm.code(), warm.err());
        assertTrue(warm.out().startsWith("stage"), warm.out());
        assertTrue(Files.exists(out.resolve("warmstart/model.safetensors")));
        CliRun train = CliRun.of("", args("train", mined, out, "--iterations", "1"));
        assertEquals(0, train.code(), train.err());
        assertTrue(train.out().contains("warmstart"), train.out());
        assertTrue(train.out().contains("iteration-1  drift"), train.out());
        assertTrue(train.out().contains("final model: " + out.resolve("iteration-1")), train.out());

        // Another method on the same folder is refused, naming what differs (exit 2).
        CliRun spin = CliRun.of("", args("train", mined, out, "--method", "spin"));
        assertEquals(2, spin.code());
        assertTrue(spin.err().contains("holds another run (its method (drift there, spin here) differs)"), spin.err());
        CliRun badMethod = CliRun.of("", args("train", mined, dir.resolve("x"), "--method", "dpo"));
        assertEquals(2, badMethod.code());
        assertTrue(badMethod.err().contains("'--method': must be drift, spin or iterdpo, got dpo"), badMethod.err());
    }

    /** Kills a real `drift train` process (SIGKILL) mid-generation and mid-training; the resumed run's models equal an uninterrupted run's. */
    @Test
    void aKilledTrainResumesToTheSameModels(@TempDir Path dir) throws Exception {
        Path mined = mine(dir);
        Path a = dir.resolve("a"), b = dir.resolve("b");
        CliRun whole = CliRun.of("", args("train", mined, a));
        assertEquals(0, whole.code(), whole.err());

        killWhenSeen(args("train", mined, b), "iteration-1 (drift): 2 pairs");    // after sampling, before training
        killWhenSeen(args("train", mined, b), "iteration-2 (drift): sampling");   // mid-loop
        CliRun rest = CliRun.of("", args("train", mined, b));
        assertEquals(0, rest.code(), rest.err());
        for (String stage : new String[] {"warmstart", "iteration-1", "iteration-2"}) {
            assertEquals(-1L, Files.mismatch(a.resolve(stage + "/model.safetensors"),
                    b.resolve(stage + "/model.safetensors")), stage);
            if (!stage.equals("warmstart")) {
                assertEquals(Files.readString(a.resolve(stage + "/pairs.jsonl")),
                        Files.readString(b.resolve(stage + "/pairs.jsonl")), stage);
            }
        }
    }

    static void killWhenSeen(String[] args, String marker) throws Exception {
        List<String> command = CliRun.javaCommand(args);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        boolean seen = false;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.contains(marker)) {
                    seen = true;
                    p.destroyForcibly();
                    break;
                }
            }
        }
        p.waitFor(60, TimeUnit.SECONDS);
        assertTrue(seen, "the run never printed \"" + marker + "\"");
    }
}
