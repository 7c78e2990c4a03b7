package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    @Test
    void resumingWithSeveralProcessesIsRefusedForNow(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl");
        Files.write(pairs, List.of(DpoCommandTest.pair("2+2?", "4", "5")));
        CliRun run = CliRun.of("", "dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                pairs.toString(), "--output", dir.resolve("out").toString(), "--nproc-per-node", "2", "--resume");
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().contains("--resume with more than one process"), run.err());
        assertFalse(Files.exists(dir.resolve("out")));
    }
}
