package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The paper's experiment as {@code --recipe}, checked against the paper's text and the release's configs (not against
 * drift's own declarations): {@code --print-config} shows every value and where it comes from.
 */
class RecipeCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode printed(String... more) throws Exception {
        List<String> a = new ArrayList<>(List.of("train", "--model", "m", "--data", "d", "--output", "o",
                "--print-config"));
        a.addAll(List.of(more));
        CliRun run = CliRun.of("", a.toArray(String[]::new));
        assertEquals(0, run.code(), run.err());
        return JSON.readTree(run.out());
    }

    @Test
    void thePaperRecipeIsTheDefaultWithEachValuesSource() throws Exception {
        JsonNode c = printed();
        JsonNode sources = c.get("sources");
        // App. D.2: "Each iteration builds upon the previous model checkpoint"; Tables 5 and 6: lr 5e-7, batch 4 per
        // device on 8 H100s (32 per step), beta 0.1, RMSprop, linear, sequence 2048, epochs 3 then 1, bfloat16; Eq. 2
        // has no NLL term; the release: warmup 0.1, prompt 1024, seed 42.
        Map<String, Object> expected = Map.ofEntries(Map.entry("recipe", "paper"), Map.entry("reference", "previous"),
                Map.entry("global_batch_size", 32), Map.entry("per_device_train_batch_size", 32),
                Map.entry("world_size", 1), Map.entry("gradient_accumulation_steps", 1), Map.entry("bf16", true),
                Map.entry("rpo_alpha", 0.0), Map.entry("learning_rate", 5e-7), Map.entry("beta", 0.1),
                Map.entry("optim", "rmsprop"), Map.entry("lr_scheduler_type", "linear"),
                Map.entry("warmup_ratio", 0.1), Map.entry("max_length", 2048), Map.entry("max_prompt_length", 1024),
                Map.entry("seed", 42), Map.entry("prompt_style", "release"), Map.entry("iterations", 2));
        expected.forEach((key, value) -> assertEquals(JSON.valueToTree(value).asText(), c.get(key).asText(), key));
        assertEquals(3, c.get("num_train_epochs").get("warm_start").asInt());
        assertEquals(1, c.get("num_train_epochs").get("iteration").asInt());
        for (Iterator<String> keys = c.fieldNames(); keys.hasNext();) {
            String key = keys.next();
            assertTrue(key.equals("sources") || sources.hasNonNull(key), "no source for " + key);
        }
        assertEquals("paper:App. D.2", sources.get("reference").asText());
        assertEquals("paper:Table 6", sources.get("learning_rate").asText());
        assertEquals("paper:Eq. 2", sources.get("rpo_alpha").asText());
        assertTrue(sources.get("global_batch_size").asText().startsWith("release:per_device_train_batch_size"));
        assertEquals("release:warmup_ratio", sources.get("warmup_ratio").asText());
    }

    @Test
    void theReleaseRecipeDiffersOnlyInRpo() throws Exception {
        ObjectNode paper = (ObjectNode) printed(), release = (ObjectNode) printed("--recipe", "release");
        assertEquals(0.001, release.get("rpo_alpha").asDouble());  // the release's configs, marked "optional"
        assertEquals("release:rpo_alpha", release.get("sources").get("rpo_alpha").asText());
        for (ObjectNode c : List.of(paper, release)) {
            c.remove(List.of("recipe", "rpo_alpha"));
            ((ObjectNode) c.get("sources")).remove(List.of("recipe", "rpo_alpha"));
        }
        assertEquals(paper, release);
    }

    @Test
    void theBatchSplitsOverProcessesAndAccumulation() throws Exception {
        JsonNode c = printed("--nproc-per-node", "2", "--accumulation", "4");
        assertEquals(4, c.get("per_device_train_batch_size").asInt());  // 32 / (2 x 4)
        assertEquals(2, c.get("world_size").asInt());
        assertEquals(4, c.get("gradient_accumulation_steps").asInt());
        assertEquals(32, c.get("global_batch_size").asInt());
        assertEquals("option", c.get("sources").get("gradient_accumulation_steps").asText());
        assertEquals("option", c.get("sources").get("world_size").asText());

        CliRun uneven = CliRun.of("", "train", "--model", "m", "--data", "d", "--output", "o", "--print-config",
                "--nproc-per-node", "3");
        assertEquals(2, uneven.code());
        assertTrue(uneven.err().contains("--batch-size 32 does not split evenly into --nproc-per-node 3 x "
                + "--gradient-accumulation 1 = 3 micro-batches"), uneven.err());
        assertTrue(uneven.out().isEmpty(), uneven.out());
    }

    @Test
    void anOptionOverridesItsRecipeValue() throws Exception {
        JsonNode c = printed("--learning-rate", "1e-6", "--reference", "base", "--dtype", "fp32",
                "--warmstart-epochs", "2");
        assertEquals(1e-6, c.get("learning_rate").asDouble());
        assertEquals("option", c.get("sources").get("learning_rate").asText());
        assertEquals("base", c.get("reference").asText());
        assertEquals(false, c.get("bf16").asBoolean());
        assertEquals(2, c.get("num_train_epochs").get("warm_start").asInt());
        assertEquals("option", c.get("sources").get("num_train_epochs").asText());
        JsonNode none = printed("--no-warm-start");
        assertTrue(none.get("num_train_epochs").get("warm_start").isNull());
    }

    @Test
    void printedSettingsReadBackAsTheSameRun(@TempDir Path dir) throws Exception {
        ObjectNode first = (ObjectNode) printed("--recipe", "release", "--temperature", "0.9", "--accumulation", "2",
                "--warmstart-epochs", "4");
        Path file = dir.resolve("train.json");
        Files.writeString(file, JSON.writeValueAsString(first));
        ObjectNode again = (ObjectNode) printed("--config", file.toString());
        assertEquals("config:" + file, again.get("sources").get("temperature").asText());
        first.remove("sources");
        again.remove("sources");
        assertEquals(first, again, "the printed settings, read back, are the same settings");

        // A key that follows from the others is checked, not set: this run has one process.
        ObjectNode wrong = first.deepCopy();
        wrong.put("world_size", 4);
        Files.writeString(file, JSON.writeValueAsString(wrong));
        CliRun refused = CliRun.of("", "train", "--model", "m", "--data", "d", "--output", "o", "--config",
                file.toString(), "--print-config");
        assertEquals(2, refused.code());
        assertTrue(refused.err().contains(file + ": \"world_size\" = 4, but this run resolves it to 1"),
                refused.err());
    }

    @Test
    void dpoPrintsTheSameShape() throws Exception {
        CliRun run = CliRun.of("", "dpo", "--model", "m", "--pairs", "p", "--output", "o", "--print-config",
                "--batch-size", "8", "--nproc-per-node", "2");
        assertEquals(0, run.code(), run.err());
        JsonNode c = JSON.readTree(run.out());
        assertEquals(4, c.get("per_device_train_batch_size").asInt());
        assertEquals(8, c.get("global_batch_size").asInt());
        assertEquals(1, c.get("num_train_epochs").asInt());
    }
}
