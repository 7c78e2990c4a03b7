package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.driftml.data.DsatItem;
import org.driftml.data.DsatMiner;
import org.driftml.data.MinedFolder;
import org.driftml.data.PreferencePair;
import org.driftml.data.PreferencePairs;
import org.driftml.drift.FinishedStages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What one command writes, the next reads, with every character intact (issue 32): text that JSON must escape
 * (quotes, backslashes, newlines, a tab), non-ASCII letters, CJK and an emoji outside the Basic Multilingual Plane
 * travel from the user's logs through mine's folder, train's stage folder (model, pairs, summary), dpo's model,
 * generate and eval generate's benchmark file into eval compare. The formats' other round trips: docs/cli.md,
 * "Files drift writes".
 */
class RoundTripTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A user's question and the reply they were unhappy with, as hard to carry as text gets. */
    private static final String QUESTION = "Naïve \"quote\" \\ back\\slash\n\tsecond line — 你好 🙂?";
    private static final String REPLY = "Réponse: «5»\n```\n{\"not\": \"json\"}\n``` 🚀";

    @Test
    void everyFileTheLoopWritesIsReadByTheNextCommandIntact(@TempDir Path dir) throws Exception {
        // WildFeedback's record format, the hard text in the first conversation's question and DSAT reply.
        List<String> logs = new java.util.ArrayList<>(DriftCommandsTest.LOGS);
        logs.set(0, record(0, "User", QUESTION, false, false));
        logs.set(1, record(1, "Agent", REPLY, false, false));
        Path logFile = Files.write(dir.resolve("logs.jsonl"), logs);
        Path mined = dir.resolve("mined");
        CliRun mine = CliRun.of("", "mine", "--logs", logFile.toString(), "--output", mined.toString());
        assertEquals(0, mine.code(), mine.err());

        // mine's folder: the DSAT item holds the question and the reply byte for byte.
        DsatMiner.Mined read = MinedFolder.read(mined);
        DsatItem item = read.items().stream().filter(i -> i.rejected().equals(REPLY)).findFirst().orElseThrow(
                () -> new AssertionError("no DSAT item with the reply intact: " + read.items()));
        assertEquals(QUESTION, item.prompt().get(item.prompt().size() - 1).content());

        // train reads the folder; its stage is a finished stage (what serve --watch reads), its pairs anchor on the
        // same reply (y-), its model and pairs are dpo's --model and --pairs.
        Path run = dir.resolve("run");
        CliRun train = CliRun.of("", DriftCommandsTest.args("train", mined, run, "--iterations", "1"));
        assertEquals(0, train.code(), train.err());
        assertEquals(new FinishedStages.Stage("iteration-1", run.resolve("iteration-1")),
                FinishedStages.newest(run).orElseThrow());
        List<PreferencePair> pairs = PreferencePairs.read(run.resolve("iteration-1/pairs.jsonl"));
        PreferencePair anchored = pairs.stream().filter(p -> p.rejected().equals(REPLY)).findFirst().orElseThrow(
                () -> new AssertionError("no pair rejects the reply intact: " + pairs));
        assertEquals(QUESTION, anchored.prompt().get(anchored.prompt().size() - 1).content());
        Path dpo = dir.resolve("dpo");
        CliRun again = CliRun.of("", "dpo", "--model", run.resolve("iteration-1").toString(), "--pairs",
                run.resolve("iteration-1/pairs.jsonl").toString(), "--output", dpo.toString(), "--batch-size", "1",
                "--epochs", "1", "--dtype", "float32");
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains(pairs.size() + " pairs (0 truncated, 0 dropped)"), again.err());

        // dpo's model folder is generate's --model; the question goes in as a chat message.
        ObjectNode chat = JSON.createObjectNode();
        chat.putArray("messages").addObject().put("role", "user").put("content", QUESTION);
        CliRun generate = CliRun.of(JSON.writeValueAsString(chat) + "\n", "generate", "--model", dpo.toString(),
                "--max-new-tokens", "3");
        assertEquals(0, generate.code(), generate.err());
        assertEquals(1, generate.lines().length, generate.out());
        assertTrue(JSON.readTree(generate.lines()[0]).has("text"), generate.out());

        // eval generate's AlpacaEval file keeps the instruction intact, and eval compare reads it.
        ArrayNode prompts = JSON.createArrayNode();
        prompts.addObject().put("instruction", QUESTION).put("dataset", "helpful_base");
        prompts.addObject().put("instruction", REPLY).put("dataset", "oasst");
        Path alpaca = Files.writeString(dir.resolve("alpaca_eval.json"), JSON.writeValueAsString(prompts));
        Path eval = dir.resolve("eval");
        CliRun outputs = CliRun.of("", "eval", "generate", "--model", dpo.toString(), "--prompts", alpaca.toString(),
                "--output", eval.toString(), "--max-new-tokens", "3", "--generator", "round-trip");
        assertEquals(0, outputs.code(), outputs.err());
        JsonNode written = JSON.readTree(eval.resolve("model_outputs.json").toFile());
        assertEquals(QUESTION, written.get(0).get("instruction").asText());
        assertEquals(REPLY, written.get(1).get("instruction").asText());
        Path b = eval.resolve("model_outputs.json");
        CliRun compare = CliRun.of("", "eval", "compare", "--a", b.toString(), "--b", b.toString(), "--reward-model",
                CliRun.parity("tiny-qwen2-reward").toString(), "--tie-margin", "1e-4", "--output",
                dir.resolve("compare.json").toString());
        assertEquals(0, compare.code(), compare.err());
        assertTrue(compare.out().contains("ties 2"), compare.out());
    }

    private static String record(int id, String role, String content, boolean sat, boolean dsat) throws Exception {
        ObjectNode r = JSON.createObjectNode();
        r.put("UtterranceId", id).put("Role", role).put("Content", content).put("Satisfaction", sat)
                .put("Disatisfaction", dsat);
        return JSON.writeValueAsString(r);
    }
}
