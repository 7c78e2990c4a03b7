package org.driftml.drift;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.driftml.output.Progress;
import org.driftml.data.PreferencePair;
import org.driftml.data.PreferencePairs;
import org.driftml.model.spec.Precision;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.driftml.model.SequenceClassifierRewardModel;

class RewardModelTest {
    static Path parity(String name) throws Exception {
        return Path.of(RewardModelTest.class.getResource("/parity/" + name).toURI());
    }

    static List<ChatMessage> messages(JsonNode list) {
        List<ChatMessage> out = new ArrayList<>();
        list.forEach(m -> out.add(new ChatMessage(m.get("role").asText(), m.get("content").asText())));
        return out;
    }

    @Test
    void scoresEqualTransformersSequenceClassification() throws Exception {
        JsonNode cases = new ObjectMapper().readTree(parity("tiny-qwen2-reward-expected.json").toFile());
        try (var rm = new SequenceClassifierRewardModel(parity("tiny-qwen2-reward"), Precision.FP32)) {
            for (JsonNode c : cases) {
                long[] ids = rm.encode(messages(c.get("prompt")), c.get("response").asText());
                long[] want = new ObjectMapper().convertValue(c.get("ids"), long[].class);
                assertArrayEquals(want, ids);
            }
            // Scored together in one batch, like the fixture: the two responses to "2+2?" at once.
            double[] s = rm.score(messages(cases.get(0).get("prompt")),
                    List.of(cases.get(0).get("response").asText(), cases.get(1).get("response").asText()));
            assertEquals(cases.get(0).get("score").asDouble(), s[0], 1e-4);
            assertEquals(cases.get(1).get("score").asDouble(), s[1], 1e-4);
            double[] third = rm.score(messages(cases.get(2).get("prompt")), List.of(cases.get(2).get("response").asText()));
            assertEquals(cases.get(2).get("score").asDouble(), third[0], 1e-4);
        }
    }

    @Test
    void iterDpoOnUltraFeedbackPromptsRanksTwoSamplesByReward(@TempDir Path dir) throws Exception {
        List<List<ChatMessage>> prompts = List.of(List.of(ChatMessage.user("2+2?")), List.of(ChatMessage.user("hi")));
        try (var rm = new SequenceClassifierRewardModel(parity("tiny-qwen2-reward"), Precision.FP32)) {
            DriftConfig c = DriftTrainerTest.config().withIterations(1).withDpo(null, DriftTrainerTest.config().iteration());
            new DriftTrainer(c).progress(Progress.SILENT)
                    .train(parity("tiny-qwen2-chat"), List.of(), k -> new RewardRankedPairs(prompts, rm), dir);
            List<PreferencePair> pairs = PreferencePairs.read(dir.resolve("iteration-1/pairs.jsonl"));
            assertEquals(prompts.size(), pairs.size(), "one pair per prompt (no two samples tied)");
            // The reward model's scores are transformers' (the test above); here, each pair ranks its two samples
            // by them: chosen the higher, rejected the lower, both recorded.
            for (int i = 0; i < pairs.size(); i++) {
                PreferencePair p = pairs.get(i);
                assertEquals(prompts.get(i), p.prompt());
                // Rescored in both orders: the samples were scored in the order they were drawn, and where the CPU's
                // kernels run on AVX2 a batch's row order changes the last bits of a padded row's score (1.9e-6
                // here at 6.45, an AMD EPYC without AVX-512).
                double chosen = ((Number) p.metadata().get("score_chosen")).doubleValue();
                double rejected = ((Number) p.metadata().get("score_rejected")).doubleValue();
                double[] s = rm.score(p.prompt(), List.of(p.chosen(), p.rejected()));
                double[] swapped = rm.score(p.prompt(), List.of(p.rejected(), p.chosen()));
                boolean inOrder = Math.abs(s[0] - chosen) <= 1e-6 && Math.abs(s[1] - rejected) <= 1e-6;
                boolean reversed = Math.abs(swapped[1] - chosen) <= 1e-6 && Math.abs(swapped[0] - rejected) <= 1e-6;
                assertTrue(inOrder || reversed, "recorded " + chosen + " / " + rejected + ", rescored " + s[0] + " / "
                        + s[1] + " or, swapped, " + swapped[1] + " / " + swapped[0]);
                assertTrue(chosen > rejected, "chosen " + chosen + " above rejected " + rejected);
            }
        }
    }
}
