package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** drift eval generate / compare and drift explore on the tiny chat and reward models (issue 17). */
class EvalCommandsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String model = CliRun.parity("tiny-qwen2-chat").toString();
    private final String judge = CliRun.parity("tiny-qwen2-reward").toString();

    @TempDir
    Path dir;

    private Path alpaca() throws Exception {
        Path p = dir.resolve("alpaca_eval.json");
        Files.writeString(p, "[\n {\"instruction\": \"name a colour\", \"dataset\": \"helpful_base\"},\n"
                + " {\"instruction\": \"2+2?\", \"dataset\": \"oasst\"},\n {\"instruction\": \"say hi\", \"dataset\":"
                + " \"vicuna\"}\n]\n");
        return p;
    }

    private CliRun generate(Path prompts, Path out, String generator, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("eval", "generate", "--model", model, "--prompts",
                prompts.toString(), "--output", out.toString(), "--max-new-tokens", "6", "--temperature", "1.0",
                "--batch", "2", "--generator", generator));
        args.addAll(List.of(more));
        return CliRun.of("", args.toArray(String[]::new));
    }

    @Test
    void generateWritesAlpacaEvalAndWildBenchFilesAndResumes() throws Exception {
        Path out = dir.resolve("a");
        CliRun r = generate(alpaca(), out, "tiny-a");
        assertEquals(0, r.code(), r.err());
        JsonNode outputs = JSON.readTree(out.resolve("model_outputs.json").toFile());
        assertTrue(outputs.isArray());
        assertEquals(3, outputs.size());
        for (int i = 0; i < 3; i++) {
            JsonNode row = outputs.get(i);
            // AlpacaEval reads exactly these: instruction and output as strings, generator naming the model.
            assertTrue(row.get("instruction").isTextual() && row.get("output").isTextual(), row.toString());
            assertEquals("tiny-a", row.get("generator").asText());
        }
        assertEquals("2+2?", outputs.get(1).get("instruction").asText());
        assertEquals("oasst", outputs.get(1).get("dataset").asText());
        JsonNode wild = JSON.readTree(out.resolve("wildbench.json").toFile());
        assertEquals("1", wild.get(1).get("session_id").asText());
        assertEquals(List.of("2+2?"), List.of(wild.get(1).get("chat_history").get(0).asText()));
        assertEquals(outputs.get(1).get("output").asText(), wild.get(1).get("output").get(0).asText());
        assertTrue(wild.get(1).get("model_input").asText().endsWith("<|im_start|>assistant\n"));
        assertEquals(1.0, wild.get(1).get("configs").get("temperature").asDouble());

        // A kill in the middle of the second batch's write: the rerun makes that batch again, the same replies.
        Path journal = out.resolve("replies.jsonl");
        List<String> lines = Files.readAllLines(journal, StandardCharsets.UTF_8);
        assertEquals(2, lines.size(), "3 prompts in batches of 2");
        Files.writeString(journal, lines.get(0) + "\n" + lines.get(1).substring(0, 10));
        Files.delete(out.resolve("model_outputs.json"));
        CliRun again = generate(alpaca(), out, "tiny-a");
        assertEquals(0, again.code(), again.err());
        assertEquals(outputs, JSON.readTree(out.resolve("model_outputs.json").toFile()));

        // Other settings on the same folder are refused, naming what differs.
        CliRun other = generate(alpaca(), out, "tiny-a", "--seed", "5");
        assertEquals(2, other.code());
        assertTrue(other.err().contains("settings"), other.err());
    }

    @Test
    void eachBenchmarkGetsItsOwnTokenLimitAndTheCutRepliesAreCounted() throws Exception {
        Path wild = dir.resolve("wildbench.jsonl"), other = dir.resolve("other.jsonl");
        Files.writeString(wild, "{\"session_id\": \"s1\", \"conversation_input\": [{\"role\": \"user\", "
                + "\"content\": \"hi\"}]}\n");
        Files.writeString(other, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n");
        // WildBench v2's scripts: 4096 new tokens; alpaca_eval's local-model configs: 2048; anything else 512.
        Object[][] cases = {{alpaca(), 2048}, {wild, 4096}, {other, 512}};
        for (Object[] c : cases) {
            Path out = dir.resolve("limit-" + c[1]);
            CliRun r = CliRun.of("", "eval", "generate", "--model", model, "--prompts", c[0].toString(), "--output",
                    out.toString(), "--max-prompts", "1");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("at the " + c[1] + "-token limit"), r.out());
        }
        // One new token each: a reply is cut unless that token ended it, in which case it is empty.
        Path out = dir.resolve("one-token");
        CliRun r = CliRun.of("", "eval", "generate", "--model", model, "--prompts", alpaca().toString(), "--output",
                out.toString(), "--max-new-tokens", "1", "--temperature", "1.0");
        assertEquals(0, r.code(), r.err());
        long nonEmpty = 0;
        for (JsonNode row : JSON.readTree(out.resolve("model_outputs.json").toFile())) {
            nonEmpty += row.get("output").asText().isEmpty() ? 0 : 1;
        }
        assertTrue(r.out().contains("3 replies by tiny-qwen2-chat, " + nonEmpty + " cut at the 1-token limit"), r.out());
    }

    @Test
    void compareJudgesOneModelAgainstAnotherWithABootstrapInterval() throws Exception {
        assertEquals(0, generate(alpaca(), dir.resolve("a"), "a").code());
        assertEquals(0, generate(alpaca(), dir.resolve("b"), "b", "--seed", "1").code());
        Path a = dir.resolve("a/model_outputs.json"), b = dir.resolve("b/model_outputs.json");
        CliRun r = CliRun.of("", "eval", "compare", "--a", a.toString(), "--b", b.toString(), "--reward-model", judge,
                "--output", dir.resolve("cmp.json").toString(), "--resamples", "500");
        assertEquals(0, r.code(), r.err());
        JsonNode doc = JSON.readTree(dir.resolve("cmp.json").toFile());
        int wins = doc.get("wins").asInt(), losses = doc.get("losses").asInt(), ties = doc.get("ties").asInt();
        assertEquals(3, wins + losses + ties);
        assertEquals((wins + ties / 2.0) / 3, doc.get("win_rate").asDouble(), 1e-12);
        assertTrue(doc.get("ci_lower").asDouble() <= doc.get("win_rate").asDouble()
                && doc.get("win_rate").asDouble() <= doc.get("ci_upper").asDouble(), doc.toString());
        assertTrue(r.out().contains("win rate"), r.out());

        // A model against itself: every instruction a tie, win rate 1/2. A tie within round-off: the judge scores A's
        // and B's replies in other rows of a padded batch, which on AVX2 (AMD EPYC, no AVX-512) differ in the last bits.
        CliRun self = CliRun.of("", "eval", "compare", "--a", a.toString(), "--b", a.toString(), "--reward-model",
                judge, "--tie-margin", "1e-4");
        assertEquals(0, self.code(), self.err());
        assertTrue(self.out().contains("win rate 0.500") && self.out().contains("ties 3"), self.out());

        // The paper's kind of judge, a DeBERTa-v3 classifier, the same way: a model against itself ties everywhere.
        CliRun deberta = CliRun.of("", "eval", "compare", "--a", a.toString(), "--b", a.toString(), "--reward-model",
                CliRun.parity("tiny-deberta-v3-reward").toString(), "--tie-margin", "1e-4");
        assertEquals(0, deberta.code(), deberta.err());
        assertTrue(deberta.out().contains("win rate 0.500") && deberta.out().contains("ties 3"), deberta.out());
    }

    @Test
    void compareReadsWildBenchResultsWithTheirChatHistory() throws Exception {
        Path prompts = dir.resolve("wildbench.jsonl");
        Files.writeString(prompts, "{\"session_id\": \"s1\", \"primary_tag\": \"Math\", \"conversation_input\":"
                + " [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"},"
                + " {\"role\": \"user\", \"content\": \"2+2?\"}]}\n{\"session_id\": \"s2\", \"conversation_input\":"
                + " [{\"role\": \"user\", \"content\": \"name a colour\"}]}\n");
        assertEquals(0, generate(prompts, dir.resolve("a"), "a").code());
        assertEquals(0, generate(prompts, dir.resolve("b"), "b", "--seed", "1").code());
        JsonNode wild = JSON.readTree(dir.resolve("a/wildbench.json").toFile());
        assertEquals("s1", wild.get(0).get("session_id").asText());
        assertEquals("Math", wild.get(0).get("primary_tag").asText());
        assertEquals(3, wild.get(0).get("chat_history").size());
        assertEquals("hello", wild.get(0).get("chat_history").get(1).asText());

        Path out = dir.resolve("cmp.json");
        CliRun r = CliRun.of("", "eval", "compare", "--a", dir.resolve("a/wildbench.json").toString(), "--b",
                dir.resolve("b/wildbench.json").toString(), "--reward-model", judge, "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode doc = JSON.readTree(out.toFile());
        assertEquals(2, doc.get("prompts").asInt());

        // The judge saw the whole conversation: scoring session s1's replies in context gives the recorded outcome.
        try (var rm = new org.driftml.model.SequenceClassifierRewardModel(CliRun.parity("tiny-qwen2-reward"),
                org.driftml.model.spec.Precision.FP32)) {
            var context = List.of(org.driftml.text.ChatMessage.user("hi"),
                    org.driftml.text.ChatMessage.assistant("hello"), org.driftml.text.ChatMessage.user("2+2?"));
            var colour = List.of(org.driftml.text.ChatMessage.user("name a colour"));
            double[] s1 = rm.score(context, List.of(wild.get(0).get("output").get(0).asText(),
                    JSON.readTree(dir.resolve("b/wildbench.json").toFile()).get(0).get("output").get(0).asText()));
            double[] s2 = rm.score(colour, List.of(wild.get(1).get("output").get(0).asText(),
                    JSON.readTree(dir.resolve("b/wildbench.json").toFile()).get(1).get("output").get(0).asText()));
            int wins = (s1[0] > s1[1] ? 1 : 0) + (s2[0] > s2[1] ? 1 : 0);
            int losses = (s1[0] < s1[1] ? 1 : 0) + (s2[0] < s2[1] ? 1 : 0);
            assertEquals(wins, doc.get("wins").asInt());
            assertEquals(losses, doc.get("losses").asInt());
        }
    }

    @Test
    void badPromptFilesAndOptionsExitTwoNamingTheInput() throws Exception {
        Path bad = dir.resolve("bad.jsonl");
        Files.writeString(bad, "{\"instruction\": \"ok\"}\n{\"messages\": [{\"role\": \"user\"}]}\n");
        CliRun r = generate(bad, dir.resolve("o"), "x");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("bad.jsonl:2") && r.err().contains("messages[0]"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace");
        assertFalse(Files.exists(dir.resolve("o")), "nothing written");

        Path broken = dir.resolve("broken.json");
        Files.writeString(broken, "[\n {\"instruction\": \"a\"},\n {\"instruction\": \n]");
        CliRun b = generate(broken, dir.resolve("o"), "x");
        assertEquals(2, b.code());
        assertTrue(b.err().contains("broken.json:"), b.err());

        Path endsWithAssistant = dir.resolve("wb.jsonl");
        Files.writeString(endsWithAssistant, "{\"session_id\": \"s1\", \"conversation_input\": [{\"role\": \"user\","
                + " \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n");
        CliRun w = generate(endsWithAssistant, dir.resolve("o"), "x");
        assertEquals(2, w.code());
        assertTrue(w.err().contains("wb.jsonl:1") && w.err().contains("user's"), w.err());

        CliRun samples = CliRun.of("", "explore", "--prompts", alpaca().toString(), "--method", "a=" + model,
                "--reward-model", judge, "--samples", "1", "--output", dir.resolve("e").toString());
        assertEquals(2, samples.code());
        assertTrue(samples.err().contains("samples must be at least 2"), samples.err());

        CliRun definition = CliRun.of("", "explore", "--prompts", alpaca().toString(), "--method", "a=" + model,
                "--reward-model", judge, "--coverage", "area", "--output", dir.resolve("e").toString());
        assertEquals(2, definition.code());
        assertTrue(definition.err().contains("--coverage must be paper or fixed-z"), definition.err());

        CliRun method = CliRun.of("", "explore", "--prompts", alpaca().toString(), "--method", model,
                "--reward-model", judge, "--output", dir.resolve("e").toString());
        assertEquals(2, method.code());
        assertTrue(method.err().contains("NAME=DIR"), method.err());

        Path other = dir.resolve("other-tokenizer");
        Files.createDirectories(other);
        try (var files = Files.list(Path.of(model))) {
            for (Path f : files.toList()) {
                Files.copy(f, other.resolve(f.getFileName()));
            }
        }
        Files.writeString(other.resolve("tokenizer.json"), Files.readString(other.resolve("tokenizer.json"))
                .replace("\"<|im_end|>\"", "\"<|end|>\""));
        CliRun tokenizers = CliRun.of("", "explore", "--prompts", alpaca().toString(), "--method", "a=" + model,
                "--method", "b=" + other, "--reward-model", judge, "--output", dir.resolve("e").toString());
        assertEquals(2, tokenizers.code());
        assertTrue(tokenizers.err().contains("different tokenizers") && tokenizers.err().contains(other.toString()),
                tokenizers.err());
        assertFalse(Files.exists(dir.resolve("e")), "nothing written");

        CliRun missing = CliRun.of("", "eval", "compare", "--a", alpaca().toString(), "--b", alpaca().toString(),
                "--reward-model", judge);
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("record 0") && missing.err().contains("\"output\""), missing.err());
    }

    @Test
    void exploreWritesCoverageForEachMethod() throws Exception {
        Path out = dir.resolve("explore");
        CliRun r = CliRun.of("", "explore", "--prompts", alpaca().toString(), "--method", "first=" + model,
                "--method", "second=" + model, "--reward-model", judge, "--samples", "6", "--max-new-tokens", "5",
                "--max-prompts", "2", "--figures", "1", "--grid", "40", "--pooling", "last", "--embedder-attention",
                "bidirectional", "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode doc = JSON.readTree(out.resolve("coverage.json").toFile());
        assertEquals(2, doc.get("prompts").size());
        assertEquals("paper", doc.get("settings").get("definition").asText(), "Sec. 4.3 as written, by default");
        assertEquals(List.of("first", "second"), List.copyOf(iterable(doc.get("mean_share").fieldNames())));
        assertTrue(Files.exists(out.resolve("coverage-prompt-0.png")) && Files.exists(out.resolve("coverage.png")));
        assertFalse(Files.exists(out.resolve("coverage-prompt-1.png")));
        assertTrue(r.out().contains("first"), r.out());
    }

    private static List<String> iterable(java.util.Iterator<String> it) {
        List<String> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }
}
