package org.driftml.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.driftml.output.Progress;
import org.driftml.model.SequenceClassifierRewardModel;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.ParityFixtures;
import org.driftml.model.spec.Precision;
import org.driftml.model.RandomWeights;
import org.driftml.model.Sampler;
import org.driftml.model.TextEmbedder;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The exploration pipeline end to end on the tiny chat model and a re-initialised copy, with the tiny reward model. */
class ExplorationTest {
    @TempDir
    Path dir;

    private static final List<List<ChatMessage>> PROMPTS = List.of(List.of(ChatMessage.user("name a colour")),
            List.of(ChatMessage.user("2+2?")), List.of(ChatMessage.user("say hi")));

    private Path copyWithFreshWeights(long seed) throws Exception {
        Path from = ParityFixtures.folder("tiny-qwen2-chat"), to = dir.resolve("fresh-" + seed);
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().endsWith(".safetensors")) {
                    Files.copy(f, to.resolve(f.getFileName()));
                }
            }
        }
        RandomWeights.write(to, seed, 0.2);
        return to;
    }

    private static Exploration.Settings settings(int samples) {
        return new Exploration.Settings(samples, Sampler.Settings.sampling(1.0, 1.0, 6, java.util.Set.of(), 3), 8, 8,
                Umap.Settings.defaults(4).withCosine(true), new Coverage.Settings(60, 0.8, 0.1, 0));
    }

    @Test
    void samplesAnalysesAndWritesCoverageAndResumesToTheSameReplies() throws Exception {
        List<Exploration.Method> methods = List.of(new Exploration.Method("base",
                ParityFixtures.folder("tiny-qwen2-chat")), new Exploration.Method("fresh", copyWithFreshWeights(9)));
        Path out = dir.resolve("out");
        Exploration.Settings s = settings(8);
        Map<String, List<List<String>>> replies = Exploration.sample(PROMPTS, methods, s, Precision.FP32,
                ComputeDevice.CPU, out, Progress.SILENT);
        assertEquals(List.of("base", "fresh"), List.copyOf(replies.keySet()));
        assertEquals(8, replies.get("fresh").get(2).size());

        // A kill mid-write: the last journal line torn. The rerun makes only that chunk again, with the same replies.
        Path journal = out.resolve("samples-fresh.jsonl");
        List<String> lines = Files.readAllLines(journal, StandardCharsets.UTF_8);
        assertEquals(3, lines.size(), "3 prompts x 8 samples in chunks of 8");
        String torn = String.join("\n", lines.subList(0, 2)) + "\n" + lines.get(2).substring(0, 20);
        Files.writeString(journal, torn);
        Map<String, List<List<String>>> again = Exploration.sample(PROMPTS, methods, s, Precision.FP32,
                ComputeDevice.CPU, out, Progress.SILENT);
        assertEquals(replies, again);
        assertEquals(3, Files.readAllLines(journal, StandardCharsets.UTF_8).size());

        List<Exploration.PromptResult> results;
        try (SequenceClassifierRewardModel reward = new SequenceClassifierRewardModel(
                ParityFixtures.folder("tiny-qwen2-reward"), Precision.FP32);
                TextEmbedder embedder = TextEmbedder.load(ParityFixtures.folder("tiny-qwen2-chat"), Precision.FP32,
                        ComputeDevice.CPU, TextEmbedder.Pooling.MEAN, 128)) {
            results = Exploration.analyse(PROMPTS, replies, reward, embedder, s, Progress.SILENT);
            List<Exploration.PromptResult> twice = Exploration.analyse(PROMPTS, replies, reward, embedder, s, Progress.SILENT);
            for (int i = 0; i < results.size(); i++) {
                assertEquals(results.get(i).coverage().share(), twice.get(i).coverage().share(), "deterministic");
            }
            // the rewards are the reward model's own scores of each reply
            double[] direct = reward.score(PROMPTS.get(1), results.get(1).replies());
            assertEquals(direct[5], results.get(1).rewards()[5], 1e-5);
        }
        Map<String, Double> mean = Exploration.write(results, s, out, 2);
        JsonNode doc = new ObjectMapper().readTree(out.resolve("coverage.json").toFile());
        assertEquals(3, doc.get("prompts").size());
        for (String m : List.of("base", "fresh")) {
            double share = doc.get("mean_share").get(m).asDouble();
            assertTrue(share >= 0 && share <= 1, m + " " + share);
            assertEquals(mean.get(m), share, 1e-12);
            double sum = 0;
            for (JsonNode p : doc.get("prompts")) {
                sum += p.get("share").get(m).asDouble() / 3;
            }
            assertEquals(sum, share, 1e-12, "the mean over prompts");
        }
        BufferedImage fig = ImageIO.read(out.resolve("coverage-prompt-0.png").toFile());
        assertEquals(760, fig.getWidth());
        assertTrue(Files.exists(out.resolve("coverage-prompt-1.png")));
        assertTrue(!Files.exists(out.resolve("coverage-prompt-2.png")), "only the first 2 figures");
        assertEquals(640, ImageIO.read(out.resolve("coverage.png").toFile()).getWidth());
    }

    @Test
    void modelsWithDifferentTokenizersAreRefusedBeforeSampling() throws Exception {
        Path other = copyWithFreshWeights(5);
        Files.writeString(other.resolve("tokenizer.json"), Files.readString(other.resolve("tokenizer.json"))
                .replace("\"<|im_end|>\"", "\"<|end|>\""));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Exploration.sample(PROMPTS,
                List.of(new Exploration.Method("a", ParityFixtures.folder("tiny-qwen2-chat")),
                        new Exploration.Method("b", other)), settings(4), Precision.FP32, ComputeDevice.CPU,
                dir.resolve("o"), Progress.SILENT));
        assertTrue(e.getMessage().contains("different tokenizers") && e.getMessage().contains(other.toString()),
                e.getMessage());
        assertTrue(!Files.exists(dir.resolve("o")), "nothing written");
    }

    @Test
    void tooFewSamplesForADensityAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> settings(1));
        assertTrue(e.getMessage().contains("samples must be at least 2"), e.getMessage());
    }
}
