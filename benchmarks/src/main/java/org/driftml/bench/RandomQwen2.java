package org.driftml.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.driftml.model.RandomWeights;

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
        RandomWeights.write(folder, seed, 0.02);
        return folder;
    }
}
