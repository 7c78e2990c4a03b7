package org.driftml.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.driftml.model.spec.Precision;
import org.driftml.model.spec.ComputeDevice;

/** Embeddings equal transformers' Qwen2Model hidden states pooled (scripts/parity/make_embedding_fixture.py). */
class TextEmbedderTest {
    private static final JsonNode EXPECTED = read();

    private static JsonNode read() {
        try {
            return new ObjectMapper().readTree(ParityFixtures.folder("tiny-qwen2-embeddings.json").toFile());
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> texts() {
        List<String> t = new ArrayList<>();
        EXPECTED.get("texts").forEach(n -> t.add(n.asText()));
        return t;
    }

    private static void check(TextEmbedder.Pooling pooling, String key, int batch) throws Exception {
        check(pooling, TextEmbedder.Attention.CAUSAL, key, batch);
    }

    private static void check(TextEmbedder.Pooling pooling, TextEmbedder.Attention attention, String key, int batch)
            throws Exception {
        try (TextEmbedder e = TextEmbedder.load(ParityFixtures.folder("tiny-qwen2-chat"), Precision.FP32,
                ComputeDevice.CPU, pooling, attention, 512)) {
            List<String> texts = texts();
            for (int i = 0; i < texts.size(); i++) {
                long[] ids = e.tokenizer().encode(texts.get(i));
                long[] want = new long[EXPECTED.get("ids").get(i).size()];
                for (int k = 0; k < want.length; k++) {
                    want[k] = EXPECTED.get("ids").get(i).get(k).asLong();
                }
                assertArrayEquals(want, ids, "token ids of " + texts.get(i));
            }
            float[][] got = e.embed(texts, batch);
            double worst = 0;
            for (int i = 0; i < got.length; i++) {
                assertEquals(e.dimension(), got[i].length);
                for (int k = 0; k < got[i].length; k++) {
                    worst = Math.max(worst, Math.abs(got[i][k] - EXPECTED.get(key).get(i).get(k).asDouble()));
                }
            }
            System.out.printf("%s pooling, batch %d: max |drift - transformers| = %.2e%n", key, batch, worst);
            assertTrue(worst < 2e-5, key + " pooling differs from transformers by " + worst);
        }
    }

    @Test
    void meanPoolingMatchesTransformersInOneBatchAndOneByOne() throws Exception {
        check(TextEmbedder.Pooling.MEAN, "mean", 8);
        check(TextEmbedder.Pooling.MEAN, "mean", 1);
    }

    @Test
    void lastTokenPoolingMatchesTransformers() throws Exception {
        check(TextEmbedder.Pooling.LAST, "last", 3);
    }

    @Test
    void bidirectionalAttentionMatchesTransformersWithAFullMask() throws Exception {
        // gte-Qwen2 reads text with every token seeing every other: last-token pooling then differs from causal.
        check(TextEmbedder.Pooling.LAST, TextEmbedder.Attention.BIDIRECTIONAL, "last_bidirectional", 4);
        check(TextEmbedder.Pooling.MEAN, TextEmbedder.Attention.BIDIRECTIONAL, "mean_bidirectional", 1);
        double apart = 0;
        for (int k = 0; k < EXPECTED.get("last").get(1).size(); k++) {
            apart = Math.max(apart, Math.abs(EXPECTED.get("last").get(1).get(k).asDouble()
                    - EXPECTED.get("last_bidirectional").get(1).get(k).asDouble()));
        }
        assertTrue(apart > 1e-3, "the fixture tells the two attentions apart");
    }

    @Test
    void poolingNamesAreChecked() {
        assertEquals(TextEmbedder.Pooling.LAST, TextEmbedder.Pooling.parse("last"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TextEmbedder.Pooling.parse("cls"));
        assertTrue(e.getMessage().contains("cls"), e.getMessage());
    }
}
