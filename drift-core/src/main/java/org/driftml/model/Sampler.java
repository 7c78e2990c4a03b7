package org.driftml.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;

/**
 * Batched generation as transformers' {@code generate} does it: prompts left-padded, positions cumsum(mask) - 1, one
 * prefill then one token per step through a {@link KvCache}; the logits processed by repetition penalty, then
 * temperature, top-k and top-p (in that order), then argmax or one multinomial draw per step from a generator seeded
 * once per call, so a seed reproduces a generation (and, on the same logits, transformers' own draws).
 *
 * <p>DRIFT samples a fresh positive for every dissatisfaction item at every iteration (temperature 0.7, top-p 0.9,
 * 512 new tokens in the released code), so this loop is on the critical path.
 */
public final class Sampler {
    /** How to pick tokens. {@code topK} 0 and {@code topP} 1 disable those filters; penalty 1 disables it. */
    public record Settings(boolean greedy, double temperature, double topP, int topK, double repetitionPenalty,
            int maxNewTokens, Set<Long> stopIds, long seed) {
        public Settings {
            if (maxNewTokens < 1) {
                throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
            }
            if (!greedy && !(temperature > 0)) {
                throw new IllegalArgumentException("temperature must be > 0 when sampling, got " + temperature);
            }
            if (!(topP > 0 && topP <= 1)) {
                throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
            }
            if (topK < 0 || repetitionPenalty <= 0) {
                throw new IllegalArgumentException("topK must be >= 0 and repetitionPenalty > 0");
            }
            stopIds = Set.copyOf(stopIds);
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

    public List<Generation> generate(List<long[]> prompts, Settings s) {
        int n = prompts.size();
        int promptLength = 0;
        for (long[] p : prompts) {
            if (p.length == 0) {
                throw new IllegalArgumentException("an empty prompt cannot be continued");
            }
            promptLength = Math.max(promptLength, p.length);
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
        // One scope for the generation (cache, the growing ids) and one per token for everything else: without
        // the inner one, every step's activations live until the end (gigabytes over a long generation).
        try (StepScope generation = StepScope.open()) {
            Tensor ids = longs(idsFlat, n, promptLength);
            Tensor keyMask = longs(maskFlat, n, promptLength);
            Tensor embed = decoder.weights().get("model.embed_tokens.weight");
            KvCache cache = new KvCache(decoder.config(), n, promptLength + s.maxNewTokens(), embed.scalar_type());
            Generator generator = torch.createCPUGenerator(s.seed());
            Tensor last;
            try (StepScope prefill = StepScope.open()) {
                Tensor positions = keyMask.cumsum(-1).sub(new Scalar(1))
                        .masked_fill(keyMask.eq(new Scalar(0)), new Scalar(1));
                Tensor hidden = decoder.hiddenStates(ids, keyMask, positions, cache);
                last = prefill.moveTo(generation, hidden.narrow(1, promptLength - 1, 1).squeeze(1).contiguous());
            }
            for (int step = 0; step < s.maxNewTokens(); step++) {
                try (StepScope token = StepScope.open()) {
                    Tensor logits = decoder.logits(last).to(ScalarType.Float);  // [N, V]
                    Tensor next = choose(process(logits, ids, s), s, generator);  // [N, 1]
                    Tensor chosenLogp = logits.log_softmax(-1).gather(1, next, false);
                    long[] picked = Tensorsj.longs(next);
                    float[] lp = Tensorsj.floats(chosenLogp);
                    boolean all = true;
                    for (int i = 0; i < n; i++) {
                        if (done[i]) {
                            picked[i] = padId;
                            continue;
                        }
                        tokens.get(i).add(picked[i]);
                        logps.get(i).add(lp[i]);
                        done[i] = s.stopIds().contains(picked[i]);
                        all &= done[i];
                    }
                    if (all || step == s.maxNewTokens() - 1) {
                        break;
                    }
                    next = longs(picked, n, 1);
                    ids = token.moveTo(generation, torch.cat(new TensorVector(ids, next), 1));
                    keyMask = token.moveTo(generation, torch.cat(new TensorVector(keyMask, torch.ones_like(next)), 1));
                    Tensor position = keyMask.sum(new long[] {1}, true, new org.bytedeco.pytorch.ScalarTypeOptional())
                            .sub(new Scalar(1));
                    last = token.moveTo(generation, decoder.hiddenStates(next, keyMask, position, cache).squeeze(1));
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

    /** transformers' processors and warpers, in its order. */
    static Tensor process(Tensor logits, Tensor ids, Settings s) {
        Tensor scores = logits;
        if (s.repetitionPenalty() != 1.0) {  // every id seen so far, prompt (and its padding) included, as HF does
            Tensor seen = torch.gather(scores, 1, ids);
            Tensor penalised = torch.where(seen.lt(new Scalar(0)), seen.mul(new Scalar(s.repetitionPenalty())),
                    seen.div(new Scalar(s.repetitionPenalty())));
            scores = torch.scatter(scores, 1, ids, penalised);
        }
        if (s.greedy()) {
            return scores;
        }
        scores = scores.div(new Scalar(s.temperature()));
        double negInf = Double.NEGATIVE_INFINITY;
        if (s.topK() > 0 && s.topK() < scores.size(-1)) {
            Tensor kth = torch.topk(scores, s.topK(), -1, true, true).get0().narrow(-1, s.topK() - 1, 1);
            scores = scores.masked_fill(scores.lt(kth), new Scalar(negInf));
        }
        if (s.topP() < 1.0) {
            T_TensorTensor_T sorted = torch.sort(scores, -1, false);  // ascending, as HF's TopPLogitsWarper
            Tensor cumulative = sorted.get0().softmax(-1).cumsum(-1);
            Tensor remove = cumulative.le(new Scalar(1 - s.topP()));
            remove.narrow(-1, remove.size(-1) - 1, 1).fill_(new Scalar(0));  // keep at least one token
            Tensor removeByToken = torch.scatter(remove, 1, sorted.get1(), remove);
            scores = scores.masked_fill(removeByToken, new Scalar(negInf));
        }
        return scores;
    }

    private static Tensor choose(Tensor scores, Settings s, Generator generator) {
        if (s.greedy()) {
            return scores.argmax(new LongOptional(-1), true);
        }
        return torch.multinomial(scores.softmax(-1), 1, false, new GeneratorOptional(generator));
    }

    private static Tensor longs(long[] values, long rows, long cols) {
        return Tensorsj.fromLongs(values).view(rows, cols);
    }
}
