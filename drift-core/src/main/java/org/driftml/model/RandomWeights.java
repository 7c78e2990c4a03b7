package org.driftml.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.NativeRuntime;
import org.driftml.model.internal.SafetensorsWriter;
import org.driftml.model.spec.ModelConfig;

/**
 * Fresh weights for the config.json already in a folder, as transformers initialises a decoder: normal(0, std)
 * for matrices and embeddings (initializer_range, 0.02 by default), ones for norms, zeros for biases. Seeded, so a
 * folder is reproducible; written with drift's safetensors writer, so transformers loads it.
 */
public final class RandomWeights {
    private RandomWeights() {}

    public static void write(Path folder, long seed, double std) throws IOException {
        NativeRuntime.load();
        ModelConfig config = ModelConfig.read(folder.resolve("config.json"));
        torch.manual_seed(seed);
        Map<String, Tensor> weights = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : config.expectedTensors().entrySet()) {
            String name = e.getKey();
            Tensor t = name.endsWith("norm.weight") ? torch.ones(e.getValue())
                    : name.endsWith(".bias") ? torch.zeros(e.getValue())
                    : torch.randn(e.getValue()).mul(new Scalar(std));
            weights.put(name, t);
        }
        SafetensorsWriter.writeCheckpoint(folder, weights, Long.MAX_VALUE);
    }
}
