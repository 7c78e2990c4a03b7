package org.driftml.model.spec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.List;
import java.util.function.Consumer;
import org.driftml.Fixtures;
import org.junit.jupiter.api.Test;
import org.driftml.model.spec.ModelConfig;
import org.driftml.model.ParityFixtures;

class ModelConfigTest {
    @Test
    void readsATransformers5Qwen2Config() throws IOException {
        ModelConfig c = ModelConfig.read(ParityFixtures.folder("tiny-qwen2").resolve("config.json"));
        assertEquals("qwen2", c.modelType());
        assertEquals(64, c.hiddenSize());
        assertEquals(4, c.numAttentionHeads());
        assertEquals(2, c.numKeyValueHeads());
        assertEquals(2, c.queriesPerKeyValue());
        assertEquals(16, c.headDim());
        assertTrue(c.tieWordEmbeddings());
        assertTrue(c.qkvBias(), "Qwen2 has q/k/v biases");
        assertFalse(c.outputBias(), "but none on o_proj");
        assertEquals("default", c.rope().type());
        assertEquals(1_000_000.0, c.rope().theta());
        assertEquals(List.of(2), c.eosTokenIds());
    }

    @Test
    void readsLlama3RopeScaling() throws IOException {
        ModelConfig c = ModelConfig.read(ParityFixtures.folder("tiny-llama").resolve("config.json"));
        assertEquals("llama3", c.rope().type());
        assertEquals(500_000.0, c.rope().theta());
        assertEquals(8.0, c.rope().factor());
        assertEquals(1.0, c.rope().lowFreqFactor());
        assertEquals(4.0, c.rope().highFreqFactor());
        assertEquals(64, c.rope().originalMaxPositionEmbeddings());
        assertFalse(c.tieWordEmbeddings());
        assertFalse(c.qkvBias());
        assertArrayEquals(new long[] {256, 64}, c.expectedTensors().get("lm_head.weight"));
    }

    @Test
    void readsTheRealQwen2InstructConfigInTransformers4Format() throws IOException {
        ModelConfig c = ModelConfig.read(Fixtures.qwen2Tokenizer().resolve("config.json"));
        assertEquals(151_936, c.vocabSize());
        assertEquals(1536, c.hiddenSize());
        assertEquals(8960, c.intermediateSize());
        assertEquals(28, c.numHiddenLayers());
        assertEquals(12, c.numAttentionHeads());
        assertEquals(2, c.numKeyValueHeads());
        assertEquals(128, c.headDim());
        assertEquals(1_000_000.0, c.rope().theta());
        assertEquals(151_643, c.bosTokenId());
        assertEquals(List.of(151_645), c.eosTokenIds());
        assertNull(c.padTokenId());
        // 28 layers x 12 tensors (incl. 3 biases) + embeddings + final norm, lm-head tied.
        assertEquals(28 * 12 + 2, c.expectedTensors().size());
    }

    @Test
    void rejectsWhatTheDecoderWouldComputeDifferently() {
        assertRejected(n -> n.put("model_type", "gemma"), "model_type: 'gemma' is not supported");
        assertRejected(n -> n.put("hidden_act", "gelu"), "hidden_act: 'gelu' is not supported");
        assertRejected(n -> n.put("use_sliding_window", true), "use_sliding_window: true is not supported");
        assertRejected(n -> n.remove("hidden_size"), "hidden_size: missing");
        assertRejected(n -> n.put("num_key_value_heads", 3), "num_key_value_heads: 3 does not divide");
        assertRejected(n -> n.put("vocab_size", -5), "vocab_size: must be a positive integer, got -5");
        assertRejected(n -> n.putObject("rope_parameters").put("rope_type", "yarn").put("rope_theta", 1e4),
                "rope_parameters.rope_type: 'yarn' is not supported");
        assertRejected(n -> n.putObject("rope_scaling").put("type", "llama3").put("factor", 8.0),
                "rope_scaling.low_freq_factor: missing");
    }

    private static void assertRejected(Consumer<ObjectNode> edit, String message) {
        ObjectNode n;
        try {
            n = (ObjectNode) new ObjectMapper().readTree(
                    ParityFixtures.folder("tiny-qwen2").resolve("config.json").toFile());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        if (message.startsWith("rope_scaling")) {
            n.remove("rope_parameters");
        }
        edit.accept(n);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelConfig.parse(n, "models/x/config.json"));
        assertTrue(e.getMessage().startsWith("models/x/config.json: "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
