package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DpoCommandTest {
    static String pair(String question, String good, String bad) {
        return "{\"prompt\": [{\"role\": \"user\", \"content\": \"" + question + "\"}], \"chosen\": [{\"role\": "
                + "\"assistant\", \"content\": \"" + good + "\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \""
                + bad + "\"}]}";
    }

    @Test
    void trainsAndLeavesAModelFolderMetricsAndPlots(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl"), out = dir.resolve("out");
        Files.write(pairs, List.of(pair("2+2?", "4", "5"), pair("Capital of France?", "Paris", "Lyon"),
                pair("Colour of the sky?", "Blue", "Green"), pair("3*3?", "9", "6")));
        CliRun run = CliRun.of("", "dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                pairs.toString(), "--output", out.toString(), "--learning-rate", "1e-3", "--batch-size", "2",
                "--epochs", "2", "--save-steps", "2", "--rpo-alpha", "0");  // without RPO the first loss is ln 2
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().startsWith("trained 4 steps: loss 0.6931"), run.out());
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja",
                "metrics.jsonl", "loss.png", "rewards.png", "checkpoint-2/model.safetensors", "checkpoint-4"}) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertEquals(4, lines.size());
        JsonNode first = new ObjectMapper().readTree(lines.get(0));
        for (String key : new String[] {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
                "rewards/accuracies", "logps/chosen", "logps/rejected", "grad_norm", "learning_rate", "padding_fraction"}) {
            assertTrue(first.has(key), key);
        }
        BufferedImage png = ImageIO.read(out.resolve("loss.png").toFile());
        assertEquals(720, png.getWidth());
        // The trained folder is a model folder the other commands load as it is.
        CliRun score = CliRun.of("{\"input_ids\": [257, 85, 83, 68], \"completion_start\": 2}\n", "logprobs", "--model",
                out.toString());
        assertEquals(0, score.code(), score.err());
        assertTrue(score.out().contains("\"logp\":"), score.out());
        // Running again into the same folder needs --resume; with it, training continues from checkpoint-4 (done).
        CliRun again = CliRun.of("", "dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                pairs.toString(), "--output", out.toString());
        assertEquals(2, again.code());
        assertTrue(again.err().contains("pass --resume"), again.err());
    }

    @Test
    void aConfigFileSetsWhatTheCommandLineLeavesUnset(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl");
        Files.write(pairs, List.of(pair("2+2?", "4", "5"), pair("3*3?", "9", "6")));
        Path config = dir.resolve("dpo.json");
        Files.writeString(config, "{\"learning_rate\": 1e-3, \"batch-size\": 1, \"epochs\": 2, \"rpo-alpha\": 0,"
                + " \"max-steps\": 99}");
        CliRun run = CliRun.of("", "dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                pairs.toString(), "--output", dir.resolve("out").toString(), "--config", config.toString(),
                "--max-steps", "3");
        assertEquals(0, run.code(), run.err());
        // batch 1 x 2 pairs x 2 epochs = 4 steps, but the command line's --max-steps 3 wins over the file's 99.
        assertTrue(run.out().startsWith("trained 3 steps: loss 0.6931"), run.out());
        assertTrue(run.err().contains("learning_rate=0.001"), run.err());

        Files.writeString(config, "{\"learning-rat\": 1e-3}");
        CliRun bad = CliRun.of("", "dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                pairs.toString(), "--output", dir.resolve("out2").toString(), "--config", config.toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("unknown setting \"learning-rat\""), bad.err());
    }

    @Test
    void malformedPairsNameTheirLine(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl");
        Files.write(pairs, List.of(pair("a", "b", "c"), "{\"prompt\": \"x\", \"chosen\": \"y\"}"));
        CliRun run = CliRun.of("", "dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                pairs.toString(), "--output", dir.resolve("out").toString());
        assertEquals(2, run.code());
        assertTrue(run.err().contains(pairs + ":2: missing field \"rejected\""), run.err());
    }

    /** One writer per output: a second run on a folder a live run holds is refused and the first run's result stays whole. */
    @Test
    void aSecondRunOnABusyOutputIsRefusedAndTheFirstFinishesIntact(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl"), out = dir.resolve("out"), solo = dir.resolve("solo");
        List<String> lines = new java.util.ArrayList<>();
        for (int i = 0; i < 8; i++) {
            lines.add(pair("question " + i, "good " + i, "bad " + i));
        }
        Files.write(pairs, lines);
        String[] args = {"dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs", pairs.toString(),
            "--learning-rate", "1e-3", "--batch-size", "1", "--epochs", "5", "--save-steps", "10"};
        List<String> command = CliRun.javaCommand(args);
        command.addAll(List.of("--output", out.toString()));
        Process first = new ProcessBuilder(command).redirectErrorStream(true).start();
        StringBuilder firstOut = new StringBuilder();
        var reader = new java.io.BufferedReader(new java.io.InputStreamReader(first.getInputStream(),
                java.nio.charset.StandardCharsets.UTF_8));
        String line;
        while ((line = reader.readLine()) != null) {  // up to the line printed once it holds the folder and trains
            firstOut.append(line).append('\n');
            if (line.startsWith("drift dpo: 8 pairs")) {
                break;
            }
        }
        CliRun second = CliRun.of("", concat(args, "--output", out.toString()));
        assertEquals(2, second.code(), second.err());
        assertTrue(second.err().contains("is in use by another run (drift dpo, pid " + first.pid() + ", started "),
                second.err());
        firstOut.append(new String(first.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
        assertTrue(first.waitFor(5, java.util.concurrent.TimeUnit.MINUTES));
        assertEquals(0, first.exitValue(), firstOut.toString());
        // The first run's result is what it would have been alone: its 40 steps, its weights bit for bit.
        assertEquals(40, Files.readAllLines(out.resolve("metrics.jsonl")).size());
        CliRun alone = CliRun.of("", concat(args, "--output", solo.toString()));
        assertEquals(0, alone.code(), alone.err());
        assertEquals(-1L, Files.mismatch(out.resolve("model.safetensors"), solo.resolve("model.safetensors")));
    }

    @Test
    void anOutputThatIsOrIsInsideTheModelIsRefusedBeforeAnythingIsWritten(@TempDir Path dir) throws Exception {
        Path model = copyOf(CliRun.parity("tiny-qwen2-chat"), dir.resolve("model"));
        Path pairs = dir.resolve("pairs.jsonl");
        Files.write(pairs, List.of(pair("2+2?", "4", "5")));
        List<String> before;
        try (var files = Files.list(model)) {
            before = files.map(p -> p.getFileName().toString()).sorted().toList();
        }
        long modelBytes = Files.size(model.resolve("model.safetensors"));
        for (Path out : new Path[] {model, model.resolve("."), model.resolve("trained")}) {
            CliRun run = CliRun.of("", "dpo", "--model", model.toString(), "--pairs", pairs.toString(), "--output",
                    out.toString());
            assertEquals(2, run.code(), run.err());
            assertTrue(run.err().contains("--output: the output folder " + out), run.err());
            assertTrue(run.err().contains(out.endsWith("trained") ? "is inside the model folder" : "is the model folder"),
                    run.err());
        }
        try (var files = Files.list(model)) {
            assertEquals(before, files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertEquals(modelBytes, Files.size(model.resolve("model.safetensors")));
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static Path copyOf(Path model, Path to) throws java.io.IOException {
        Files.createDirectories(to);
        try (var files = Files.list(model)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }

    @Test
    void aResumeWithOtherPairsOrSettingsIsRefusedNamingEachDifference(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl"), other = dir.resolve("other.jsonl"), out = dir.resolve("out");
        Files.write(pairs, List.of(pair("2+2?", "4", "5"), pair("3*3?", "9", "6")));
        Files.write(other, List.of(pair("2+2?", "4", "5"), pair("3*3?", "9", "7")));
        String m = CliRun.parity("tiny-qwen2-chat").toString();
        CliRun first = CliRun.of("", "dpo", "--model", m, "--pairs", pairs.toString(), "--output", out.toString(),
                "--batch-size", "1", "--learning-rate", "1e-3");
        assertEquals(0, first.code(), first.err());
        byte[] model = Files.readAllBytes(out.resolve("model.safetensors"));
        CliRun changed = CliRun.of("", "dpo", "--model", m, "--pairs", other.toString(), "--output", out.toString(),
                "--batch-size", "1", "--learning-rate", "2e-3", "--resume");
        assertEquals(2, changed.code(), changed.err());
        assertTrue(changed.err().contains("holds another run (its pairs_sha256 ("), changed.err());
        assertTrue(changed.err().contains("settings.learning_rate (0.001 there, 0.002 here) differ"), changed.err());
        assertTrue(java.util.Arrays.equals(model, Files.readAllBytes(out.resolve("model.safetensors"))),
                "the finished run's model is untouched");
        // The same run resumes: its last checkpoint is the end, so nothing more is trained.
        CliRun same = CliRun.of("", "dpo", "--model", m, "--pairs", pairs.toString(), "--output", out.toString(),
                "--batch-size", "1", "--learning-rate", "1e-3", "--resume");
        assertEquals(0, same.code(), same.err());
    }

    @Test
    void aResumeRepairsATornMetricsLineAndRemovesStaleTemporaries(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl"), out = dir.resolve("out");
        Files.write(pairs, List.of(pair("2+2?", "4", "5"), pair("3*3?", "9", "6"), pair("1+1?", "2", "3"),
                pair("5-1?", "4", "2")));
        String[] args = {"dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs", pairs.toString(),
            "--batch-size", "1", "--learning-rate", "1e-3", "--save-steps", "2"};
        CliRun whole = CliRun.of("", concat(args, "--output", dir.resolve("whole").toString()));
        assertEquals(0, whole.code(), whole.err());
        // As a run killed after step 3 leaves it: checkpoint-2, three metrics lines and half of a fourth, a
        // temporary of the final save. (Made from the whole run's files.)
        Files.createDirectories(out);
        copyOf(dir.resolve("whole/checkpoint-2"), out.resolve("checkpoint-2"));
        Files.copy(dir.resolve("whole/run.json"), out.resolve("run.json"));
        List<String> lines = Files.readAllLines(dir.resolve("whole/metrics.jsonl"));
        Files.writeString(out.resolve("metrics.jsonl"), String.join("\n", lines.subList(0, 3)) + "\n"
                + lines.get(3).substring(0, 20));
        Files.writeString(out.resolve("model.safetensors.tmp-12345"), "half a model");
        CliRun resumed = CliRun.of("", concat(args, "--output", out.toString(), "--resume"));
        assertEquals(0, resumed.code(), resumed.err());
        assertEquals(lines, Files.readAllLines(out.resolve("metrics.jsonl")), "steps 1-2 kept, 3-4 replayed");
        assertFalse(Files.exists(out.resolve("model.safetensors.tmp-12345")));
        assertEquals(-1L, Files.mismatch(out.resolve("model.safetensors"), dir.resolve("whole/model.safetensors")));
    }

    @Test
    void theFinalModelIsSavedInTheDtypeItsConfigDeclares(@TempDir Path dir) throws Exception {
        Path model = copyOf(CliRun.parity("tiny-qwen2-chat"), dir.resolve("model"));
        Files.writeString(model.resolve("config.json"), Files.readString(model.resolve("config.json"))
                .replace("\"dtype\": \"float32\"", "\"dtype\": \"bfloat16\""));
        Path pairs = dir.resolve("pairs.jsonl"), out = dir.resolve("out");
        Files.write(pairs, List.of(pair("2+2?", "4", "5")));
        CliRun run = CliRun.of("", "dpo", "--model", model.toString(), "--pairs", pairs.toString(), "--output",
                out.toString());
        assertEquals(0, run.code(), run.err());
        var saved = org.driftml.model.internal.SafetensorsFile.open(out.resolve("model.safetensors"));
        assertTrue(saved.tensors().values().stream()
                .allMatch(t -> t.dtype() == org.driftml.model.internal.SafetensorsDtype.BF16), "bf16 as declared");
        var checkpoint = org.driftml.model.internal.SafetensorsFile.open(out.resolve("checkpoint-1/model.safetensors"));
        assertTrue(checkpoint.tensors().values().stream()
                .allMatch(t -> t.dtype() == org.driftml.model.internal.SafetensorsDtype.F32), "fp32 masters in checkpoints");
    }

    @Test
    void aLossThatStopsBeingFiniteIsARunTimeFailure(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl");
        Files.write(pairs, List.of(pair("2+2?", "4", "5"), pair("3*3?", "9", "6"), pair("1+1?", "2", "3")));
        CliRun run = CliRun.of("", "dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                pairs.toString(), "--output", dir.resolve("out").toString(), "--batch-size", "1", "--learning-rate",
                "1e30", "--epochs", "3");
        assertEquals(1, run.code(), run.err());
        assertTrue(run.err().contains("drift dpo: step "), run.err());
        assertFalse(run.err().contains("\tat "), run.err());
    }
}
