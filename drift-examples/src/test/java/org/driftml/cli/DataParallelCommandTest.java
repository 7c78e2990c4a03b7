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
    }

    /**
     * Killed after its second checkpoint (checkpoint-3, the model and the third metrics line removed, as a kill
     * leaves them) and resumed with two workers, each restoring the checkpoint: the same model, bit for bit.
     */
    @Test
    void twoWorkersResumeToTheUninterruptedModel(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl"), out = dir.resolve("out");
        Files.write(pairs, List.of(DpoCommandTest.pair("2+2?", "4", "5"), DpoCommandTest.pair("3*3?", "9", "6"),
                DpoCommandTest.pair("Sky?", "Blue", "Green"), DpoCommandTest.pair("Capital of France?", "Paris",
                        "Lyon")));
        String[] args = {"dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs", pairs.toString(),
            "--output", out.toString(), "--learning-rate", "1e-3", "--batch-size", "2", "--epochs", "2",
            "--rpo-alpha", "0", "--save-steps", "1", "--nproc-per-node", "2"};
        CliRun full = CliRun.of("", args);
        assertEquals(0, full.code(), full.err());
        byte[] uninterrupted = Files.readAllBytes(out.resolve("model.safetensors"));
        deleteTree(out.resolve("checkpoint-4"));
        deleteTree(out.resolve("checkpoint-3"));
        Files.delete(out.resolve("model.safetensors"));
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        Files.write(out.resolve("metrics.jsonl"), metrics.subList(0, 2));
        CliRun resumed = CliRun.of("", DpoCommandTest.concat(args, "--resume"));
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(java.util.Arrays.equals(uninterrupted, Files.readAllBytes(out.resolve("model.safetensors"))),
                "the resumed model is the uninterrupted one");
        assertEquals(untimed(metrics), untimed(Files.readAllLines(out.resolve("metrics.jsonl"))));

        // At another world size: one process resumes the two workers' checkpoint (every rank holds the whole
        // optimiser state, so nothing is resharded) to the same model within round-off.
        deleteTree(out.resolve("checkpoint-4"));
        deleteTree(out.resolve("checkpoint-3"));
        Files.write(out.resolve("metrics.jsonl"), metrics.subList(0, 2));
        String[] alone = java.util.Arrays.copyOf(args, args.length - 2);  // without --nproc-per-node 2
        CliRun single = CliRun.of("", DpoCommandTest.concat(alone, "--resume"));
        assertEquals(0, single.code(), single.err());
        double worst = 0;
        try (StepScope scope = StepScope.open()) {
            Path mine = dir.resolve("uninterrupted.safetensors");
            Files.write(mine, uninterrupted);
            SafetensorsFile x = SafetensorsFile.open(mine), y = SafetensorsFile.open(out.resolve("model.safetensors"));
            for (String name : x.tensors().keySet()) {
                worst = Math.max(worst, x.read(name).sub(y.read(name)).abs().max().item_double());
            }
        }
        assertTrue(worst < 1e-4, "resumed by one process: max |weight difference| " + worst);
        assertEquals(4, Files.readAllLines(out.resolve("metrics.jsonl")).size());
    }

    private static void deleteTree(Path p) throws java.io.IOException {
        try (var all = Files.walk(p)) {
            for (Path q : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    /** Metrics lines without the all-reduce's wall time, which no two runs share. */
    private static List<String> untimed(List<String> lines) {
        return lines.stream().map(l -> l.replaceAll("\"allreduce_seconds\":[0-9.eE-]+,?", "")).toList();
    }
}
