package org.driftml.quickstart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.driftml.data.OnBadRecord;
import org.driftml.data.WildFeedbackAnnotations;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reduced quickstart (drift quickstart --size small) end to end: every artifact, and DRIFT above the base. */
class QuickstartTest {
    @Test
    void theSmallQuickstartProducesEveryArtifactAndDriftBeatsTheBase(@TempDir Path out) throws Exception {
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        String table = QuickstartRun.run(new QuickstartRun.Options("small", null, null, null, null), out,
                new PrintStream(progress, true));
        for (String f : new String[] {"base/model.safetensors", "base/sft.json", "base/sft-loss.png",
                "logs/wildfeedback.jsonl", "mined/dsat.jsonl", "mined/seeds.jsonl", "mined/satisfying.jsonl",
                "seed-1/warm/warmstart/model.safetensors", "results.json", "results.md", "gold-reward.png"}) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        for (String m : new String[] {"drift", "spin", "iterdpo"}) {
            for (int k = 1; k <= 2; k++) {
                Path stage = out.resolve("seed-1").resolve(m).resolve("iteration-" + k);
                for (String f : new String[] {"model.safetensors", "pairs.jsonl", "summary.json", "metrics.jsonl",
                        "rewards.png"}) {
                    assertTrue(Files.exists(stage.resolve(f)), stage + "/" + f);
                }
            }
        }
        // The logs are real WildFeedback rows: the reader takes them, and dissatisfaction outnumbers satisfaction.
        var logs = WildFeedbackAnnotations.read(out.resolve("logs/wildfeedback.jsonl"), OnBadRecord.FAIL);
        assertEquals(400, logs.conversations().size());
        JsonNode results = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        assertTrue(results.get("counts").get("DSAT").asInt() > results.get("counts").get("SAT").asInt());
        double base = results.get("base").asDouble();
        double drift = results.get("gold").get("drift/iteration-2").get(0).asDouble();
        assertTrue(drift > base, "DRIFT after 2 iterations " + drift + " vs base " + base + "\n" + table);
        assertTrue(table.contains("| DRIFT |"), table);
    }

    @Test
    void goldRewardIsExact() {
        WordTask t = new WordTask("Give me a word that starts with b and has 4 letters.",
                java.util.List.of(new WordTask.StartsWith('b'), new WordTask.Length(4)), "bake");
        assertEquals(1.0, t.reward("bake"));
        assertEquals(1.0, t.reward(" Bake. "));
        assertEquals(0.5, t.reward("bread"));
        assertEquals(0.5, t.reward("cake"));
        assertEquals(0.0, t.reward("two words"));
        assertEquals(0.0, t.reward("apple"));
        SimulatedUser user = new SimulatedUser(new Random(1));
        var reaction = user.react(t, "bread");
        // A complaint names the missed constraint in words (or the user leaves silently, 10% of the time).
        assertTrue(reaction == null || reaction.text().contains("4"), String.valueOf(reaction));
    }
}
