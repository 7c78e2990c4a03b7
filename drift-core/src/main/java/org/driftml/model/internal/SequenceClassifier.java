package org.driftml.model.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.StepScope;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.ModelConfig;

/**
 * A transformers {@code *ForSequenceClassification} checkpoint (Qwen2, Llama, Mistral): the decoder without an lm
 * head, and a bias-free {@code score} projection [num_labels, D] read at each sequence's last token that is not
 * the pad id, as transformers pools. Reward models are the num_labels = 1 case.
 */
public final class SequenceClassifier {
    private final Decoder backbone;
    private final Tensor score;
    private final Long padId;

    private SequenceClassifier(Decoder backbone, Tensor score, Long padId) {
        this.backbone = backbone;
        this.score = score;
        this.padId = padId;
    }

    public static SequenceClassifier load(Path folder, ScalarType dtype) throws IOException {
        return load(folder, dtype, Torch.device(ComputeDevice.CPU));
    }

    /** As {@link #load(Path, ScalarType)} with every weight on {@code device}. */
    public static SequenceClassifier load(Path folder, ScalarType dtype, Device device) throws IOException {
        NativeRuntime.load();
        ModelConfig config = ModelConfig.read(folder.resolve("config.json"));
        JsonNode raw = new ObjectMapper().readTree(folder.resolve("config.json").toFile());
        int labels = raw.has("num_labels") ? raw.get("num_labels").asInt()
                : raw.has("id2label") ? raw.get("id2label").size() : 2;
        Map<String, long[]> expected = new LinkedHashMap<>(config.expectedTensors());
        expected.remove("lm_head.weight");
        expected.put("score.weight", new long[] {labels, config.hiddenSize()});
        Map<String, Tensor> head = new LinkedHashMap<>();
        Decoder backbone = Decoder.load(folder, dtype, device, config, expected, head);
        return new SequenceClassifier(backbone, head.get("score.weight"),
                config.padTokenId() == null ? null : config.padTokenId().longValue());
    }

    public int numLabels() {
        return (int) score.size(0);
    }

    /** Logits [N][num_labels] for each token sequence, scored together in one right-padded batch. */
    public float[][] logits(List<long[]> sequences) {
        int n = sequences.size(), width = 0;
        for (long[] s : sequences) {
            if (s.length == 0) {
                throw new IllegalArgumentException("an empty sequence cannot be scored");
            }
            width = Math.max(width, s.length);
        }
        long pad = padId != null ? padId : 0;
        long[] ids = new long[n * width], last = new long[n];
        for (int i = 0; i < n; i++) {
            long[] s = sequences.get(i);
            for (int j = 0; j < width; j++) {
                ids[i * width + j] = j < s.length ? s[j] : pad;
            }
            // transformers pools at the rightmost token that is not the pad id (the last token without a pad id).
            last[i] = s.length - 1;
            if (padId != null) {
                while (last[i] > 0 && s[(int) last[i]] == padId) {
                    last[i]--;
                }
            }
        }
        float[][] out = new float[n][];
        try (StepScope scope = StepScope.open(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor input = Tensorsj.fromLongs(ids, backbone.device()).view(n, width);
            // Right padding only ends rows: causal attention alone is exact for every real token.
            Tensor hidden = backbone.hiddenStates(input, null, null);  // [N, T, D]
            Tensor index = Tensorsj.fromLongs(last, backbone.device()).view(n, 1, 1).expand(n, 1, hidden.size(2));
            Tensor pooled = hidden.gather(1, index, false).squeeze(1);  // [N, D]
            float[] flat = Tensorsj.floats(torch.matmul(pooled, score.t()));
            int labels = numLabels();
            for (int i = 0; i < n; i++) {
                out[i] = java.util.Arrays.copyOfRange(flat, i * labels, (i + 1) * labels);
            }
        }
        return out;
    }
}
