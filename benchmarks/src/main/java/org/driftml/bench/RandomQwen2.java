package org.driftml.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.driftml.model.ModelConfig;
import org.driftml.model.SafetensorsWriter;

/**
 * A randomly initialised Qwen2 model folder, written with drift's own writer: shared/bench's "small" preset
 * (hidden 512, intermediate 1408, 4 layers, 8 heads, 2 KV heads, vocab 32,000), so benchmarks need no download.
 */
final class RandomQwen2 {
    private RandomQwen2() {}

    static Path write(Path folder, long seed) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("config.json"), "{\"model_type\": \"qwen2\", \"vocab_size\": 32000,"
                + " \"hidden_size\": 512, \"intermediate_size\": 1408, \"num_hidden_layers\": 4,"
                + " \"num_attention_heads\": 8, \"num_key_value_heads\": 2, \"max_position_embeddings\": 4096,"
                + " \"rms_norm_eps\": 1e-6, \"rope_theta\": 1000000.0, \"tie_word_embeddings\": true,"
                + " \"hidden_act\": \"silu\", \"eos_token_id\": 2}");
        ModelConfig config = ModelConfig.read(folder.resolve("config.json"));
        torch.manual_seed(seed);
        Map<String, Tensor> weights = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : config.expectedTensors().entrySet()) {
            boolean norm = e.getKey().endsWith("norm.weight");
            weights.put(e.getKey(), norm ? torch.ones(e.getValue()) : torch.randn(e.getValue()).mul(new Scalar(0.02)));
        }
        SafetensorsWriter.writeCheckpoint(folder, weights, Long.MAX_VALUE);
        return folder;
    }
}
