package org.driftml.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every example main, run as the README runs it, on the tiny fixtures; and the README shows the DPO one as it is. */
class ExamplesTest {
    interface Main {
        void run(String[] args) throws Exception;
    }

    /** The main's standard output. */
    static String run(Main main, String... args) throws Exception {
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            main.run(args);
        } finally {
            System.setOut(saved);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    static String model() {
        return Path.of("../drift-core/src/test/resources/parity/tiny-qwen2-chat").toAbsolutePath().normalize()
                .toString();
    }

    /** The sample files the README's commands use: WildFeedback-annotated logs, and four preference pairs. */
    static final String LOGS = Path.of("data/logs.jsonl").toAbsolutePath().toString();
    static final String PAIRS = Path.of("data/pairs.jsonl").toAbsolutePath().toString();

    @Test
    void dpoOnYourPairsTrainsAndSaves(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("trained");
        String printed = run(DpoOnYourPairs::main, model(), PAIRS, out.toString());
        assertTrue(printed.startsWith("4 pairs, 1 steps: loss 0.69"), printed);
        assertTrue(Files.exists(out.resolve("model.safetensors")));
        assertTrue(Files.exists(out.resolve("tokenizer.json")));
    }

    @Test
    void generateAndScoreRepliesAndScoresTheAnswer() throws Exception {
        String printed = run(GenerateAndScore::main, model(), "2+2?", "4");
        String[] lines = printed.strip().split("\n");
        assertEquals(2, lines.length, printed);
        assertTrue(lines[0].startsWith("reply: "), printed);
        assertTrue(lines[1].startsWith("log-prob of \"4\": "), printed);
        double logp = Double.parseDouble(lines[1].substring(lines[1].lastIndexOf(' ') + 1));
        assertTrue(logp < 0 && logp > -50, printed);
    }

    @Test
    void exploreMethodsPrintsEachModelsShare(@TempDir Path dir) throws Exception {
        String prompts = Path.of("data/prompts.jsonl").toAbsolutePath().toString();
        String reward = Path.of("../drift-core/src/test/resources/parity/tiny-qwen2-reward").toAbsolutePath()
                .normalize().toString();
        String printed = run(ExploreMethods::main, prompts, reward, dir.resolve("out").toString(),
                "a=" + model(), "b=" + model());
        String[] lines = printed.strip().split("\n");
        assertEquals(2, lines.length, printed);
        for (int i = 0; i < 2; i++) {
            assertTrue(lines[i].startsWith(i == 0 ? "a " : "b "), printed);
            double share = Double.parseDouble(lines[i].substring(lines[i].lastIndexOf(' ') + 1));
            assertTrue(share >= 0 && share <= 1, printed);
        }
        assertTrue(Files.exists(dir.resolve("out/coverage.json")));
    }

    @Test
    void mineLogsReportsTheDetectorAndWhatWasMined() throws Exception {
        String printed = run(MineLogs::main, LOGS);
        assertTrue(printed.contains("detector vs the logs' labels: "), printed);
        assertTrue(printed.matches("(?s).*DSAT items +2\n.*"), printed);
        assertTrue(printed.matches("(?s).*seed pairs +1\n.*"), printed);
    }

    @Test
    void driftFromLogsWarmStartsThenRunsOneIteration(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("run");
        String printed = run(DriftFromLogs::main, model(), LOGS, out.toString());
        assertTrue(printed.contains("warmstart"), printed);
        assertTrue(printed.contains("iteration-1  drift"), printed);
        assertTrue(printed.contains("final model: " + out.resolve("iteration-1")), printed);
    }

    /** The Java snippets of the README and docs/ are the examples' classes, line for line: they cannot drift from the API. */
    @Test
    void theReadmeShowsTheExamplesAsTheyAre() throws Exception {
        String readme = Files.readString(Path.of("../README.md"));
        String models = Files.readString(Path.of("../docs/models.md"));
        for (String example : List.of("DpoOnYourPairs", "DriftFromLogs", "GenerateAndScore")) {
            List<String> source = Files.readAllLines(Path.of("src/main/java/org/driftml/examples/" + example + ".java"));
            int from = source.indexOf("public final class " + example + " {");
            int to = source.indexOf("    private " + example + "() {}");
            String body = String.join("\n", source.subList(from, to)).strip();
            assertTrue(readme.contains(body) || models.contains(body),
                    "the snippet in README.md or docs/models.md differs from " + example + ".java");
        }
    }
}
