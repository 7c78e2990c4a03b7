package org.driftml.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.model.internal.DebertaV2Classifier;
import org.driftml.model.internal.Torch;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.text.ChatMessage;
import org.driftml.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DeBERTa-v2/v3 sequence classification against transformers (scripts/parity/make_deberta_fixture.py): the v3
 * tokenizer's ids (and SentencePiece's own), and both tiny models' logits within 1e-4, every case in one padded batch.
 */
class DebertaRewardModelTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path parity(String name) throws Exception {
        return Path.of(DebertaRewardModelTest.class.getResource("/parity/" + name).toURI());
    }

    static long[] longs(JsonNode n) {
        return JSON.convertValue(n, long[].class);
    }

    @Test
    void theV3TokenizerSplitsAsSentencePieceAndPairsAsTransformers() throws Exception {
        JsonNode cases = JSON.readTree(parity("tiny-deberta-expected.json").toFile());
        try (Tokenizer tok = Tokenizer.load(parity("tiny-deberta-v3-reward"))) {
            for (JsonNode c : cases) {
                String q = c.get("question").asText(), a = c.get("answer").asText();
                assertArrayEquals(longs(c.get("spm_question")), tok.encode(q), q);
                assertArrayEquals(longs(c.get("spm_answer")), tok.encode(a), a);
                Tokenizer.Encoded pair = tok.encodePair(q, a);
                assertArrayEquals(longs(c.get("ids")), pair.ids(), q + " / " + a);
                assertArrayEquals(longs(c.get("type_ids")), pair.typeIds(), q + " / " + a);
            }
        }
    }

    @Test
    void logitsEqualTransformersForV3AndV2() throws Exception {
        JsonNode cases = JSON.readTree(parity("tiny-deberta-expected.json").toFile());
        List<long[]> ids = new ArrayList<>(), types = new ArrayList<>();
        cases.forEach(c -> {
            ids.add(longs(c.get("ids")));
            types.add(longs(c.get("type_ids")));
        });
        for (String model : List.of("tiny-deberta-v3-reward", "tiny-deberta-v2-reward")) {
            DebertaV2Classifier classifier = DebertaV2Classifier.load(parity(model), ScalarType.Float,
                    Torch.device(ComputeDevice.CPU));
            float[][] logits = classifier.logits(ids, types);
            for (int i = 0; i < cases.size(); i++) {
                assertEquals(cases.get(i).get(model).asDouble(), logits[i][0], 1e-4, model + " case " + i);
            }
        }
    }

    @Test
    void aRewardModelFolderOfDebertaScoresQuestionAndAnswer() throws Exception {
        JsonNode cases = JSON.readTree(parity("tiny-deberta-expected.json").toFile());
        try (RewardModel rm = RewardModel.load(parity("tiny-deberta-v3-reward"), Precision.FP32, ComputeDevice.CPU)) {
            assertInstanceOf(DebertaRewardModel.class, rm);
            JsonNode first = cases.get(0), second = cases.get(1);  // the same question, two answers
            double[] s = rm.score(List.of(ChatMessage.user(first.get("question").asText())),
                    List.of(first.get("answer").asText(), second.get("answer").asText()));
            assertEquals(first.get("tiny-deberta-v3-reward").asDouble(), s[0], 1e-4);
            assertEquals(second.get("tiny-deberta-v3-reward").asDouble(), s[1], 1e-4);
        }
        try (RewardModel rm = RewardModel.load(parity("tiny-qwen2-reward"), Precision.FP32, ComputeDevice.CPU)) {
            assertInstanceOf(SequenceClassifierRewardModel.class, rm);
        }
    }

    @Test
    void aMisshapenCheckpointIsNamed(@TempDir Path dir) throws Exception {
        Path folder = dir.resolve("bad");
        Files.createDirectories(folder);
        for (String f : List.of("model.safetensors", "tokenizer.json")) {
            Files.copy(parity("tiny-deberta-v3-reward").resolve(f), folder.resolve(f));
        }
        JsonNode config = JSON.readTree(parity("tiny-deberta-v3-reward").resolve("config.json").toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) config).put("intermediate_size", 50);
        Files.writeString(folder.resolve("config.json"), config.toString());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DebertaV2Classifier.load(folder, ScalarType.Float, Torch.device(ComputeDevice.CPU)));
        assertTrue(e.getMessage().contains("intermediate.dense.weight has shape [48, 32], expected [50, 32]"),
                e.getMessage());
    }
}
