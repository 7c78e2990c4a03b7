package org.driftml.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.Tensorsj;
import org.driftml.model.internal.Torch;
import org.driftml.text.Tokenizer;
import org.driftml.model.spec.Precision;
import org.driftml.model.spec.ComputeDevice;

/**
 * Text to vectors with any decoder drift loads: the final (normed) hidden states of the text's tokens, pooled and
 * scaled to unit length. Mean pooling is what sentence-transformers does for a plain causal model; last-token
 * pooling with bidirectional attention is how Qwen2-based embedding models (gte-Qwen2) read their vector, at the
 * end-of-text token their tokenizer appends. The text is tokenised as it is, without a chat template.
 */
public final class TextEmbedder implements AutoCloseable {
    /** How the token states become one vector. */
    public enum Pooling {
        MEAN, LAST;

        /** {@code mean} or {@code last}, as the command line spells them. */
        public static Pooling parse(String name) {
            try {
                return valueOf(name.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("pooling must be mean or last, got \"" + name + "\"");
            }
        }
    }

    /** How tokens see each other: causally, as the decoder was trained, or all of them (gte-Qwen2's encoder). */
    public enum Attention {
        CAUSAL, BIDIRECTIONAL;

        /** {@code causal} or {@code bidirectional}, as the command line spells them. */
        public static Attention parse(String name) {
            try {
                return valueOf(name.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("attention must be causal or bidirectional, got \"" + name + "\"");
            }
        }
    }

    private final Decoder decoder;
    private final Tokenizer tokenizer;
    private final Pooling pooling;
    private final Attention attention;
    private final int maxTokens;

    private TextEmbedder(Decoder decoder, Tokenizer tokenizer, Pooling pooling, Attention attention, int maxTokens) {
        this.decoder = decoder;
        this.tokenizer = tokenizer;
        this.pooling = pooling;
        this.attention = attention;
        this.maxTokens = maxTokens;
    }

    /**
     * Loads the model folder (a causal LM or a bare Qwen2/Llama model; its lm head, if any, is unused).
     *
     * @param maxTokens texts are cut to this many tokens (the model's positions at most)
     */
    public static TextEmbedder load(Path folder, Precision precision, ComputeDevice device, Pooling pooling,
            int maxTokens) throws IOException {
        return load(folder, precision, device, pooling, Attention.CAUSAL, maxTokens);
    }

    /** As above, with the tokens attending causally or bidirectionally (gte-Qwen2: bidirectional, last token). */
    public static TextEmbedder load(Path folder, Precision precision, ComputeDevice device, Pooling pooling,
            Attention attention, int maxTokens) throws IOException {
        Decoder decoder = Decoder.load(folder, Torch.computeDtype(precision), Torch.device(device));
        int positions = decoder.config().maxPositionEmbeddings();
        return new TextEmbedder(decoder, Tokenizer.load(folder), pooling, attention, Math.min(maxTokens, positions));
    }

    public int dimension() {
        return decoder.config().hiddenSize();
    }

    /** The tokenizer's identity, to check that two models read text alike. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** One unit vector per text, embedded {@code batch} texts at a time (right padded; causal attention keeps
     *  every real token exact, and pooling reads real tokens only). */
    public float[][] embed(List<String> texts, int batch) {
        float[][] out = new float[texts.size()][];
        for (int s = 0; s < texts.size(); s += batch) {
            List<String> chunk = texts.subList(s, Math.min(texts.size(), s + batch));
            float[][] vectors = embedChunk(chunk);
            System.arraycopy(vectors, 0, out, s, vectors.length);
        }
        return out;
    }

    private float[][] embedChunk(List<String> texts) {
        int n = texts.size(), width = 1;
        long[][] ids = new long[n][];
        for (int i = 0; i < n; i++) {
            long[] t = tokenizer.encode(texts.get(i));
            if (t.length == 0) {
                // An empty reply still has a place: the end-of-text token stands in (no tokens: nothing to pool).
                t = new long[] {decoder.config().eosTokenIds().isEmpty() ? 0 : decoder.config().eosTokenIds().get(0)};
            }
            ids[i] = t.length > maxTokens ? java.util.Arrays.copyOf(t, maxTokens) : t;
            width = Math.max(width, ids[i].length);
        }
        long[] flat = new long[n * width];
        long[] mask = new long[n * width];
        long[] last = new long[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < ids[i].length; j++) {
                flat[i * width + j] = ids[i][j];
                mask[i * width + j] = 1;
            }
            last[i] = ids[i].length - 1;
        }
        int d = dimension();
        float[] pooled;
        try (StepScope scope = StepScope.open(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor input = Tensorsj.fromLongs(flat, decoder.device()).view(n, width);
            Tensor keys = Tensorsj.fromLongs(mask, decoder.device()).view(n, width);
            Tensor hidden = (attention == Attention.CAUSAL ? decoder.hiddenStates(input, null, null)
                    : decoder.bidirectionalStates(input, keys)).to(torch.ScalarType.Float);  // [N, T, D]
            Tensor v;
            if (pooling == Pooling.MEAN) {
                Tensor m = keys.view(n, width, 1).to(torch.ScalarType.Float);
                v = hidden.mul(m).sum(new long[] {1}, false, new ScalarTypeOptional())
                        .div(m.sum(new long[] {1}, false, new ScalarTypeOptional()));
            } else {
                Tensor index = Tensorsj.fromLongs(last, decoder.device()).view(n, 1, 1).expand(n, 1, d);
                v = hidden.gather(1, index, false).squeeze(1);
            }
            pooled = Tensorsj.floats(v);
        }
        float[][] out = new float[n][d];
        for (int i = 0; i < n; i++) {
            double norm = 0;
            for (int k = 0; k < d; k++) {
                norm += (double) pooled[i * d + k] * pooled[i * d + k];
            }
            double scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
            for (int k = 0; k < d; k++) {
                out[i][k] = (float) (pooled[i * d + k] * scale);
            }
        }
        return out;
    }

    @Override
    public void close() {
        decoder.close();
        tokenizer.close();
    }
}
