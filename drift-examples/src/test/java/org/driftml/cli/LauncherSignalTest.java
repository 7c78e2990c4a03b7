package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher of {@code --nproc-per-node 2} stopped from outside: with SIGTERM (passed on to its workers, which it
 * waits for) and with SIGKILL (which it cannot see: the workers notice it gone). Either way no worker outlives it
 * by more than 10 s, and the same command resumes to the uninterrupted run's model, byte for byte.
 */
class LauncherSignalTest {
    private static String[] args(Path pairs, Path out) {
        return new String[] {"dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
            pairs.toString(), "--output", out.toString(), "--learning-rate", "1e-3", "--batch-size", "2", "--epochs",
            "20", "--rpo-alpha", "0", "--save-steps", "4", "--dtype", "float32", "--nproc-per-node", "2"};
    }

    @ParameterizedTest
    @ValueSource(strings = {"SIGTERM", "SIGKILL"})
    void noWorkerOutlivesItsLauncherAndTheRunResumes(String signal, @TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl");
        Files.write(pairs, List.of(DpoCommandTest.pair("2+2?", "4", "5"), DpoCommandTest.pair("3*3?", "9", "6"),
                DpoCommandTest.pair("Sky?", "Blue", "Green"), DpoCommandTest.pair("Capital of France?", "Paris",
                        "Lyon")));
        CliRun whole = CliRun.of("", args(pairs, dir.resolve("whole")));
        assertEquals(0, whole.code(), whole.err());

        Path out = dir.resolve("killed");
        List<String> command = CliRun.javaCommand(args(pairs, out));
        Process launcher = new ProcessBuilder(command).redirectErrorStream(true).start();
        List<ProcessHandle> workers = new ArrayList<>();
        StringBuilder said = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(launcher.getInputStream(),
                StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null;) {
                said.append(line).append('\n');
                if (line.contains("step 10/")) {  // training, two checkpoints written (steps 4 and 8 of 40)
                    workers.addAll(launcher.descendants().filter(ProcessHandle::isAlive).toList());
                    // kill(1), not Process.destroy: that also closes the streams this test still reads.
                    new ProcessBuilder("kill", "-" + signal.substring(3), String.valueOf(launcher.pid())).start()
                            .waitFor();
                    break;
                }
            }
            assertTrue(launcher.waitFor(60, TimeUnit.SECONDS), said.toString());
            // What the launcher said after the signal (killed outright, nothing; its workers' lines may still come).
            for (String line; (line = r.readLine()) != null;) {
                said.append(line).append('\n');
            }
        }
        assertEquals(2, workers.size(), "two workers were running: " + workers + "\n" + said);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (workers.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < until) {
            Thread.sleep(50);
        }
        assertTrue(workers.stream().noneMatch(ProcessHandle::isAlive), signal + ": a worker outlived its launcher by "
                + "more than 10 s");
        if (signal.equals("SIGTERM")) {
            assertTrue(said.toString().contains("stopped by a signal; stopping the workers"), said.toString());
        }
        assertTrue(Files.notExists(out.resolve("model.safetensors")), "the run was stopped before it ended");

        CliRun resumed = CliRun.of("", DpoCommandTest.concat(args(pairs, out), "--resume"));
        assertEquals(0, resumed.code(), resumed.err());
        assertArrayEquals(Files.readAllBytes(dir.resolve("whole/model.safetensors")),
                Files.readAllBytes(out.resolve("model.safetensors")), "the resumed model is the uninterrupted one");
    }
}
