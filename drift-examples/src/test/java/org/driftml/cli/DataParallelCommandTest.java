package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** drift dpo --nproc-per-node: worker JVMs on this host, each with its share of every batch, as torchrun. */
class DataParallelCommandTest {
    @Test
    void twoWorkersTrainWhatOneProcessTrains(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl");
        Files.write(pairs, List.of(DpoCommandTest.pair("2+2?", "4", "5"), DpoCommandTest.pair("3*3?", "9", "6"),
                DpoCommandTest.pair("Sky?", "Blue", "Green"), DpoCommandTest.pair("Capital of France?", "Paris",
                        "Lyon")));
        String model = CliRun.parity("tiny-qwen2-chat").toString();
        String[] common = {"dpo", "--model", model, "--pairs", pairs.toString(), "--learning-rate", "1e-3",
            "--batch-size", "4", "--epochs", "3", "--rpo-alpha", "0"};
        CliRun one = CliRun.of("", DpoCommandTest.concat(common, "--output", dir.resolve("one").toString()));
        assertEquals(0, one.code(), one.err());
        CliRun two = CliRun.of("", DpoCommandTest.concat(common, "--output", dir.resolve("two").toString(),
                "--nproc-per-node", "2"));
        assertEquals(0, two.code(), two.err());
        List<String> a = Files.readAllLines(dir.resolve("one/metrics.jsonl"));
        List<String> b = Files.readAllLines(dir.resolve("two/metrics.jsonl"));
        assertEquals(3, b.size(), "metrics written once, by rank 0");
        ObjectMapper json = new ObjectMapper();
        for (int i = 0; i < a.size(); i++) {
            assertEquals(json.readTree(a.get(i)).get("loss").asDouble(), json.readTree(b.get(i)).get("loss").asDouble(),
                    1e-6, "step " + (i + 1));
        }
        double worst = 0;
        try (StepScope scope = StepScope.open()) {
            SafetensorsFile x = SafetensorsFile.open(dir.resolve("one/model.safetensors"));
            SafetensorsFile y = SafetensorsFile.open(dir.resolve("two/model.safetensors"));
            for (String name : x.tensors().keySet()) {
                Tensor d = x.read(name).sub(y.read(name)).abs();
                worst = Math.max(worst, d.max().item_double());
            }
        }
        assertTrue(worst < 1e-4, "max |weight difference| " + worst);  // RMSprop's round-off: DataParallelTest

        // Accumulation splits each process's share: 4 pairs / (2 processes x 2) = micro-batches of one pair, two per
        // process and step; the same losses as one process's whole batch.
        CliRun accumulated = CliRun.of("", DpoCommandTest.concat(common, "--output", dir.resolve("acc").toString(),
                "--nproc-per-node", "2", "--gradient-accumulation", "2"));
        assertEquals(0, accumulated.code(), accumulated.err());
        List<String> c = Files.readAllLines(dir.resolve("acc/metrics.jsonl"));
        for (int i = 0; i < a.size(); i++) {
            assertEquals(2, json.readTree(c.get(i)).get("micro_batches").asInt(), "step " + (i + 1));
            assertEquals(json.readTree(a.get(i)).get("loss").asDouble(), json.readTree(c.get(i)).get("loss").asDouble(),
                    1e-6, "step " + (i + 1));
        }
    }

    /**
     * Killed after its second checkpoint (checkpoint-3, the model and the third metrics line removed, as a kill
     * leaves them) and resumed with two workers, each restoring the checkpoint: the same model, bit for bit. Then
     * resumed at other world sizes: by one process (under ZeRO it gathers the ranks' pieces of the optimiser state),
     * and again by two workers from that process's checkpoint (which they shard): the same model within round-off.
     * In bf16 (ZeRO's residual pieces and the final save's gathered masters) the same world size only: another one
     * splits the batches into other matmul shapes, whose bf16 round-off RMSprop then amplifies (DataParallelTest).
     */
    @ParameterizedTest
    @CsvSource({"0, float32", "2, float32", "1, bfloat16"})
    void twoWorkersResumeToTheUninterruptedModel(int zero, String dtype, @TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl"), out = dir.resolve("out");
        Files.write(pairs, List.of(DpoCommandTest.pair("2+2?", "4", "5"), DpoCommandTest.pair("3*3?", "9", "6"),
                DpoCommandTest.pair("Sky?", "Blue", "Green"), DpoCommandTest.pair("Capital of France?", "Paris",
                        "Lyon")));
        String[] args = {"dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs", pairs.toString(),
            "--output", out.toString(), "--learning-rate", "1e-3", "--batch-size", "2", "--epochs", "2",
            "--rpo-alpha", "0", "--save-steps", "1", "--dtype", dtype, "--zero", String.valueOf(zero),
            "--nproc-per-node", "2"};
        CliRun full = CliRun.of("", args);
        assertEquals(0, full.code(), full.err());
        byte[] uninterrupted = Files.readAllBytes(out.resolve("model.safetensors"));
        if (zero > 0) {  // every rank wrote its shard; the scratch of the gathered masters is gone
            assertTrue(Files.exists(out.resolve("checkpoint-4/optimizer.rank-1.safetensors")));
            assertTrue(Files.notExists(out.resolve("masters.tmp")));
        }
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        killedAfterStep2(out, metrics, 3);
        CliRun resumed = CliRun.of("", DpoCommandTest.concat(args, "--resume"));
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(java.util.Arrays.equals(uninterrupted, Files.readAllBytes(out.resolve("model.safetensors"))),
                "the resumed model is the uninterrupted one");
        assertEquals(untimed(metrics), untimed(Files.readAllLines(out.resolve("metrics.jsonl"))));
        if (!dtype.equals("float32")) {
            return;
        }

        // At another world size: one process resumes the two workers' checkpoint.
        killedAfterStep2(out, metrics, 3);
        String[] alone = java.util.Arrays.copyOf(args, args.length - 2);  // without --nproc-per-node 2
        CliRun single = CliRun.of("", DpoCommandTest.concat(alone, "--resume"));
        assertEquals(0, single.code(), single.err());
        assertTrue(maxDifference(uninterrupted, out, dir) < 1e-4, "resumed by one process");
        assertEquals(4, Files.readAllLines(out.resolve("metrics.jsonl")).size());

        // And back: two workers resume the one process's checkpoint-3 (its optimiser state whole).
        killedAfterStep2(out, Files.readAllLines(out.resolve("metrics.jsonl")), 4);
        CliRun back = CliRun.of("", DpoCommandTest.concat(args, "--resume"));
        assertEquals(0, back.code(), back.err());
        assertTrue(maxDifference(uninterrupted, out, dir) < 1e-4, "resumed by two workers from one process's");
    }

    private static String[] batchOfTwo(String[] args) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals("--batch-size")) {
                args[i + 1] = "2";
            }
        }
        return args;
    }

    /**
     * drift train with two workers and ZeRO 1: one process's pairs at every iteration byte for byte, its models
     * within round-off, the summary table printed once (rank 0's), and a bad --zero refused before any work.
     */
    @org.junit.jupiter.api.Test
    void trainWithTwoWorkersSamplesOneProcessesPairs(@TempDir Path dir) throws Exception {
        Path mined = DriftCommandsTest.mine(dir), one = dir.resolve("one"), two = dir.resolve("two");
        // Two pairs per step: one per process (a batch must split evenly over the processes).
        CliRun single = CliRun.of("", batchOfTwo(DriftCommandsTest.args("train", mined, one)));
        assertEquals(0, single.code(), single.err());
        CliRun workers = CliRun.of("", batchOfTwo(DriftCommandsTest.args("train", mined, two, "--nproc-per-node", "2",
                "--zero", "1")));
        assertEquals(0, workers.code(), workers.err());
        assertEquals(1, workers.out().lines().filter(l -> l.startsWith("final model: ")).count(), workers.out());
        for (String stage : new String[] {"warmstart", "iteration-1", "iteration-2"}) {
            if (!stage.equals("warmstart")) {
                assertEquals(Files.readString(one.resolve(stage + "/pairs.jsonl")),
                        Files.readString(two.resolve(stage + "/pairs.jsonl")), stage);
            }
            double worst = maxDifference(Files.readAllBytes(one.resolve(stage + "/model.safetensors")),
                    two.resolve(stage), dir);
            assertTrue(worst < 1e-4, stage + ": max |weight difference| " + worst);
        }
        CliRun bad = CliRun.of("", DriftCommandsTest.args("train", mined, dir.resolve("bad"), "--zero", "3"));
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--zero must be 0, 1 or 2, got 3"), bad.err());
        CliRun lora = CliRun.of("", DriftCommandsTest.args("train", mined, dir.resolve("bad"), "--zero", "1",
                "--lora-r", "4"));
        assertEquals(2, lora.code());
        assertTrue(lora.err().contains("--zero 1 with LoRA"), lora.err());
        CliRun device = CliRun.of("", batchOfTwo(DriftCommandsTest.args("train", mined, dir.resolve("bad"),
                "--device", "testdevice", "--nproc-per-node", "2")));
        assertEquals(2, device.code());
        assertTrue(device.err().contains("several processes need cpu (Gloo) or cuda (NCCL) tensors"), device.err());
        assertTrue(Files.notExists(dir.resolve("bad")));
    }

    /** As a kill after the checkpoint before {@code firstGone} leaves the folder: later checkpoints, model, lines. */
    private static void killedAfterStep2(Path out, List<String> metrics, int firstGone) throws java.io.IOException {
        for (int step = firstGone; step <= 4; step++) {
            deleteTree(out.resolve("checkpoint-" + step));
        }
        Files.delete(out.resolve("model.safetensors"));
        Files.write(out.resolve("metrics.jsonl"), metrics.subList(0, firstGone - 1));
    }

    /** Max |difference| between the weights {@code expected} holds and out's model. */
    private static double maxDifference(byte[] expected, Path out, Path dir) throws java.io.IOException {
        double worst = 0;
        try (StepScope scope = StepScope.open()) {
            Path mine = dir.resolve("uninterrupted.safetensors");
            Files.write(mine, expected);
            SafetensorsFile x = SafetensorsFile.open(mine), y = SafetensorsFile.open(out.resolve("model.safetensors"));
            for (String name : x.tensors().keySet()) {
                worst = Math.max(worst, x.read(name).sub(y.read(name)).abs().max().item_double());
            }
        }
        System.out.printf("max |weight difference| %.3g%n", worst);
        return worst;
    }

    private static void deleteTree(Path p) throws java.io.IOException {
        try (var all = Files.walk(p)) {
            for (Path q : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    /** Metrics lines without the collectives' wall times (allreduce_seconds, ...), which no two runs share. */
    private static List<String> untimed(List<String> lines) {
        return lines.stream().map(l -> l.replaceAll("\"[a-z_]+_seconds\":[0-9.eE-]+,?", "")).toList();
    }
}
