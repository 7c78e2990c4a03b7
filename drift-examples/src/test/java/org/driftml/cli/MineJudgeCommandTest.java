package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * drift mine --detect judge|rules+judge on the tiny chat model (issue 16): the plumbing end to end. The tiny model
 * answers noise, so every verdict is unparsed and reported, no turn is labelled by it, and a second run answers
 * every turn from the cache in the output folder.
 */
class MineJudgeCommandTest {
    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void theJudgeReportsWhatItCouldNotReadAndResumesFromItsCache(@TempDir Path dir) throws Exception {
        Path logs = dir.resolve("logs.jsonl"), out = dir.resolve("mined");
        Files.write(logs, DriftCommandsTest.LOGS);
        String model = CliRun.parity("tiny-qwen2-chat").toString();
        String[] args = {"mine", "--logs", logs.toString(), "--output", out.toString(), "--detect", "judge",
            "--judge-model", model, "--judge-batch", "2"};
        CliRun first = CliRun.of("", args);
        assertEquals(0, first.code(), first.err());
        assertTrue(first.err().matches("(?s).*judge: (\\d+) turns judged \\(0 from the cache\\), 0 DSAT, \\1 verdicts "
                + "could not be parsed \\(left unlabelled\\).*"), first.err());
        assertTrue(first.err().contains("unparsed verdict for "), first.err());
        assertTrue(first.out().matches("(?s).*DSAT +0\\n.*"), first.out());  // nothing guessed
        assertTrue(Files.exists(out.resolve("judge-verdicts.jsonl")));
        CliRun again = CliRun.of("", concat(args, "--evaluate-detector"));
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().matches("(?s).*judge: (\\d+) turns judged \\(\\1 from the cache\\).*"), again.err());
        // Measured against the logs' own labels: the judge found none of their DSAT turns.
        assertTrue(again.out().contains("detector vs the logs' labels: DSAT precision NaN recall 0.000 F1"),
                again.out());

        CliRun rules = CliRun.of("", "mine", "--logs", logs.toString(), "--output", dir.resolve("r").toString(),
                "--detect", "rules+judge", "--judge-model", model);
        assertEquals(0, rules.code(), rules.err());
        assertTrue(rules.out().matches("(?s).*DSAT +[1-9].*"), rules.out());  // the rules' DSAT turns stay

        CliRun missing = CliRun.of("", "mine", "--logs", logs.toString(), "--output", dir.resolve("x").toString(),
                "--detect", "judge");
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("--detect judge needs --judge-model DIR"), missing.err());
        CliRun bad = CliRun.of("", "mine", "--logs", logs.toString(), "--output", dir.resolve("x").toString(),
                "--detect", "oracle");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--detect must be rules, judge or rules+judge, got oracle"), bad.err());
        CliRun plain = CliRun.of("", "mine", "--logs", logs.toString(), "--output", dir.resolve("p").toString(),
                "--detect");
        assertEquals(0, plain.code(), plain.err());  // --detect alone: the rules, as before
        assertTrue(Files.notExists(dir.resolve("x")));
    }
}
