package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
        assertTrue(run.err().contains("learningRate=0.001"), run.err());

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
}
