package org.driftml.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.Generators;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.KvCache;
import org.driftml.settings.Setting;
import org.driftml.model.internal.Tensorsj;

/**
 * Batched generation as transformers' {@code generate} does it: prompts left-padded, positions cumsum(mask) - 1, one
 * prefill then one token per step through a {@link KvCache}; each token chosen by a {@link TokenChooser} (repetition
 * penalty, temperature, top-k, top-p, then argmax or one multinomial draw) with a generator seeded
 * once per call, so a seed reproduces a generation (and, on the same logits, transformers' own draws).
 *
 * <p>DRIFT samples a fresh positive for every dissatisfaction item at every iteration (temperature 0.7, top-p 0.9,
 * 512 new tokens in the released code), so this loop is on the critical path.
 */
public final class Sampler {
    public static final Setting<Double> TEMPERATURE = Setting.real("temperature", "sampling temperature", "", "> 0",
            v -> v > 0, 0.7, "paper Sec. 4.1: 0.7");
    public static final Setting<Double> TOP_P = Setting.real("top_p", "nucleus mass", "", "in (0, 1]",
            v -> v > 0 && v <= 1, 0.9, "paper Sec. 4.1: 0.9");
    public static final Setting<Integer> TOP_K = Setting.whole("top_k", "keep the K most likely tokens (0: all)",
            "tokens", ">= 0", v -> v >= 0, 0, "transformers: 0 when sampling is not asked for");
    public static final Setting<Double> REPETITION_PENALTY = Setting.real("repetition_penalty",
            "transformers' repetition penalty (1: none)", "", "> 0", v -> v > 0, 1.0, "transformers: 1");
    public static final Setting<Integer> MAX_NEW_TOKENS = Setting.whole("max_new_tokens", "longest sample", "tokens",
            ">= 1", v -> v >= 1, 512, "paper Sec. 4.1: 512");

    /** How to pick tokens. {@code topK} 0 and {@code topP} 1 disable those filters; penalty 1 disables it. */
    public record Settings(boolean greedy, double temperature, double topP, int topK, double repetitionPenalty,
            int maxNewTokens, Set<Long> stopIds, long seed) {
        /** Each value checked by its declaration ({@link Sampler#TEMPERATURE} ...), which a bad one names. */
        public Settings {
            MAX_NEW_TOKENS.check(maxNewTokens);
            if (!greedy) {
                TEMPERATURE.check(temperature);
            }
            TOP_P.check(topP);
            TOP_K.check(topK);
            REPETITION_PENALTY.check(repetitionPenalty);
            stopIds = Set.copyOf(stopIds);
        }

        /** These settings generating at most {@code n} new tokens. */
        public Settings withMaxNewTokens(int n) {
            return new Settings(greedy, temperature, topP, topK, repetitionPenalty, n, stopIds, seed);
        }

        /** These settings stopping at {@code ids} (a model's end-of-turn ids, known once it is loaded). */
        public Settings withStopIds(Set<Long> ids) {
            return new Settings(greedy, temperature, topP, topK, repetitionPenalty, maxNewTokens, ids, seed);
        }

        /** These settings sampling with {@code s} (a chunk of work's own seed). */
        public Settings withSeed(long s) {
            return new Settings(greedy, temperature, topP, topK, repetitionPenalty, maxNewTokens, stopIds, s);
        }

        public static Settings greedy(int maxNewTokens, Set<Long> stopIds) {
            return new Settings(true, 1.0, 1.0, 0, 1.0, maxNewTokens, stopIds, 0);
        }

        /** DRIFT's positive sampling: temperature 0.7, top-p 0.9. */
        public static Settings sampling(double temperature, double topP, int maxNewTokens, Set<Long> stopIds,
                long seed) {
            return new Settings(false, temperature, topP, 0, 1.0, maxNewTokens, stopIds, seed);
        }
    }

    /**
     * One sequence's result: the new tokens (ending with the stop id when one was produced), the policy's log-prob
     * of each under its unprocessed distribution (log_softmax of the raw logits, the quantity DPO scores), and
     * why it ended.
     */
    public record Generation(long[] outputIds, float[] logprobs, boolean stopped) {}

    private final Decoder decoder;
    private final long padId;

    /** @param padId the id left padding uses (its value never influences results: padding is masked) */
    public Sampler(Decoder decoder, long padId) {
        this.decoder = decoder;
        this.padId = padId;
    }

    /**
     * Continues each prompt, batched.
     *
     * @param prompts token ids, each non-empty (left-padded together here)
     * @param s       greedy or sampling, the new-token budget and the stop ids
     * @return one generation per prompt, in order
     * @throws IllegalArgumentException when a prompt is empty
     */
    public List<Generation> generate(List<long[]> prompts, Settings s) {
        int n = prompts.size();
        int promptLength = 0;
        for (long[] p : prompts) {
            if (p.length == 0) {
                throw new IllegalArgumentException("an empty prompt cannot be continued");
            }
            promptLength = Math.max(promptLength, p.length);
        }
        boolean padded = false;  // known here, so the decoder never reads the mask back from the device
        for (long[] p : prompts) {
            padded |= p.length < promptLength;
        }
        long[] idsFlat = new long[n * promptLength];
        long[] maskFlat = new long[n * promptLength];
        for (int i = 0; i < n; i++) {
            int pad = promptLength - prompts.get(i).length;
            for (int j = 0; j < promptLength; j++) {
                idsFlat[i * promptLength + j] = j < pad ? padId : prompts.get(i)[j - pad];
                maskFlat[i * promptLength + j] = j < pad ? 0 : 1;
            }
        }
        List<List<Long>> tokens = new ArrayList<>();
        List<List<Float>> logps = new ArrayList<>();
        boolean[] done = new boolean[n];
        for (int i = 0; i < n; i++) {
            tokens.add(new ArrayList<>());
            logps.add(new ArrayList<>());
        }
        // One scope for the generation (cache, the ids and mask buffers, the last hidden state) and one per token for
        // everything else: without the inner one, every step's activations live until the end. The generation's own
        // tensors are written in place: a new [N, T] ids tensor, mask and [N, D] hidden state kept per token grew as
        // T^2 (a tiny model took 1.45 GB for 12,000 tokens whose KV cache is 6 MB).
        Device device = decoder.device();
        int capacity = promptLength + s.maxNewTokens();
        try (StepScope generation = StepScope.open(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor idsBuffer = torch.full(new long[] {n, capacity}, new Scalar(padId),
                    new TensorOptions(ScalarType.Long).device(new DeviceOptional(device)));
            Tensor maskBuffer = torch.zeros(new long[] {n, capacity},
                    new TensorOptions(ScalarType.Long).device(new DeviceOptional(device)));
            Tensor embed = decoder.weights().get("model.embed_tokens.weight");
            KvCache cache = new KvCache(decoder.config(), n, capacity, embed.scalar_type(), device);
            Tensor last;
            try (StepScope prefill = StepScope.open()) {
                Tensor ids = longs(idsFlat, n, promptLength, device), keyMask = longs(maskFlat, n, promptLength, device);
                idsBuffer.narrow(1, 0, promptLength).copy_(ids);
                maskBuffer.narrow(1, 0, promptLength).copy_(keyMask);
                Tensor positions = keyMask.cumsum(-1).sub(new Scalar(1))
                        .masked_fill(keyMask.eq(new Scalar(0)), new Scalar(1));
                Tensor hidden = decoder.hiddenStates(ids, padded ? keyMask : null, positions, cache);
                last = prefill.moveTo(generation, hidden.narrow(1, promptLength - 1, 1).squeeze(1).contiguous());
            }
            Tensor logits = decoder.logits(last);  // [N, V], rewritten at every token
            TokenChooser chooser = new TokenChooser(s, Generators.seeded(device, s.seed()), logits);
            int length = promptLength;
            for (int step = 0; step < s.maxNewTokens(); step++) {
                try (StepScope token = StepScope.open()) {
                    if (step > 0) {
                        decoder.logits(last, logits);
                    }
                    Tensor next = chooser.choose(logits, idsBuffer.narrow(1, 0, length));  // [N, 1]
                    // The one read per token: the ids (for the stop check) and their log-probs together.
                    double[] read = Tensorsj.doubles(torch.cat(new TensorVector(next.to(ScalarType.Double),
                            chooser.logprobs(next).to(ScalarType.Double)), 1));
                    boolean all = true;
                    long[] picked = new long[n];
                    for (int i = 0; i < n; i++) {
                        picked[i] = (long) read[2 * i];
                        if (done[i]) {
                            picked[i] = padId;
                            continue;
                        }
                        tokens.get(i).add(picked[i]);
                        logps.get(i).add((float) read[2 * i + 1]);
                        done[i] = s.stopIds().contains(picked[i]);
                        all &= done[i];
                    }
                    if (all || step == s.maxNewTokens() - 1) {
                        break;
                    }
                    next = longs(picked, n, 1, device);
                    idsBuffer.narrow(1, length, 1).copy_(next);
                    maskBuffer.narrow(1, length, 1).fill_(new Scalar(1));
                    length++;
                    Tensor keyMask = maskBuffer.narrow(1, 0, length);
                    Tensor position = keyMask.sum(new long[] {1}, true, new org.bytedeco.pytorch.ScalarTypeOptional())
                            .sub(new Scalar(1));
                    last.copy_(decoder.hiddenStates(next, padded ? keyMask : null, position, cache).squeeze(1));
                }
            }
        }
        List<Generation> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long[] t = tokens.get(i).stream().mapToLong(Long::longValue).toArray();
            float[] l = new float[t.length];
            for (int j = 0; j < l.length; j++) {
                l[j] = logps.get(i).get(j);
            }
            out.add(new Generation(t, l, done[i]));
        }
        return out;
    }

    private static Tensor longs(long[] values, long rows, long cols, Device device) {
        return Tensorsj.fromLongs(values, device).view(rows, cols);
    }
}
