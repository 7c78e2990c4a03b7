package org.driftml.model;

import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import java.util.ArrayList;
import java.util.List;
import org.driftml.kernels.MultinomialDraw;
import org.driftml.kernels.StepScope;

/**
 * One decoding step's choice, as transformers' {@code generate} makes it: the raw logits widened to fp32, then
 * repetition penalty, temperature, top-k and top-p (in that order), then argmax or one multinomial draw per row; and
 * each chosen token's log-prob under the raw logits.
 *
 * <p>Its [N, V] tensors are made once per generation and written in place at every token. Made fresh at every
 * token (about 230 MB at batch 32 on Qwen2.5's vocabulary), they sent drift's sampling through the kernel's zeroing
 * of new pages: 9.9% of {@code perf} samples, against 4.2% in transformers.
 */
final class TokenChooser {
    private final Sampler.Settings s;
    private final Generator generator;
    private Tensor scores;        // fp32 logits, then processed in place
    private Tensor logp;          // log_softmax of the raw logits
    private Tensor sorted;        // top-p: the scores, ascending
    private Tensor order;         // top-p: where each sorted score came from
    private Tensor probs;         // top-p: softmax of the sorted scores; then the distribution drawn from
    private Tensor cumulative;    // top-p: their running sum
    private Tensor remove;        // top-p: sorted positions below the mass
    private Tensor removeByToken; // top-p: the same, by token
    private Tensor noise;         // the draw's exponentials (off the CPU)
    private Tensor next;          // [N, 1] chosen ids

    /** Makes the buffers, in the caller's scope, shaped and placed as {@code logits} ([N, V]). */
    TokenChooser(Sampler.Settings s, Generator generator, Tensor logits) {
        this.s = s;
        this.generator = generator;
        allocate(logits, s.greedy(), s.topP() < 1.0);
    }

    /** Buffers for any settings, shaped as {@code logits}: a slot's, which sequence after sequence reuses. */
    static TokenChooser forAnySettings(Tensor logits) {
        return new TokenChooser(logits);
    }

    private TokenChooser(Tensor logits) {
        this.s = null;
        this.generator = null;
        allocate(logits, false, true);
    }

    private TokenChooser(TokenChooser buffers, Sampler.Settings s, Generator generator) {
        this.s = s;
        this.generator = generator;
        scores = buffers.scores;
        logp = buffers.logp;
        sorted = buffers.sorted;
        order = buffers.order;
        probs = buffers.probs;
        cumulative = buffers.cumulative;
        remove = buffers.remove;
        removeByToken = buffers.removeByToken;
        noise = buffers.noise;
        next = buffers.next;
    }

    /** A chooser for one sequence's settings and generator over these buffers (made by {@link #forAnySettings}). */
    TokenChooser with(Sampler.Settings settings, Generator g) {
        return new TokenChooser(this, settings, g);
    }

    /** Keeps the buffers beyond {@code scope}; the caller then {@link #close() closes} them. */
    TokenChooser keptBy(StepScope scope) {
        for (Tensor t : buffers()) {
            scope.keep(t);
        }
        return this;
    }

    /** Frees the buffers now. */
    void close() {
        for (Tensor t : buffers()) {
            t.close();
        }
    }

    private List<Tensor> buffers() {
        List<Tensor> all = new ArrayList<>();
        for (Tensor t : new Tensor[] {scores, logp, sorted, order, probs, cumulative, remove, removeByToken, noise,
                next}) {
            if (t != null) {
                all.add(t);
            }
        }
        return all;
    }

    /**
     * @param logits [N, V] in the model's dtype, left unchanged
     * @param ids    [N, T] every id so far (for the repetition penalty)
     * @return [N, 1] the chosen ids, valid until the next call
     */
    Tensor choose(Tensor logits, Tensor ids) {
        scores.copy_(logits);
        torch.log_softmax_out(logp, scores, -1);
        Tensor processed = scores;
        if (s.repetitionPenalty() != 1.0) {  // every id seen so far, prompt (and its padding) included, as HF does
            Tensor seen = torch.gather(processed, 1, ids);
            Tensor penalised = torch.where(seen.lt(new Scalar(0)), seen.mul(new Scalar(s.repetitionPenalty())),
                    seen.div(new Scalar(s.repetitionPenalty())));
            processed = torch.scatter(processed, 1, ids, penalised);
        }
        if (s.greedy()) {
            return torch.argmax_out(next, processed, new LongOptional(-1), true);
        }
        processed.div_(new Scalar(s.temperature()));
        Scalar negInf = new Scalar(Double.NEGATIVE_INFINITY);
        if (s.topK() > 0 && s.topK() < processed.size(-1)) {
            Tensor kth = torch.topk(processed, s.topK(), -1, true, true).get0().narrow(-1, s.topK() - 1, 1);
            processed.masked_fill_(processed.lt(kth), negInf);
        }
        if (s.topP() < 1.0) {
            torch.sort_out(sorted, order, processed, -1, false);  // ascending, as HF's TopPLogitsWarper
            torch.softmax_out(probs, sorted, -1);
            torch.cumsum_out(cumulative, probs, -1);
            torch.le_out(remove, cumulative, new Scalar(1 - s.topP()));
            remove.narrow(-1, remove.size(-1) - 1, 1).fill_(new Scalar(0));  // keep at least one token
            torch.scatter_out(removeByToken, remove, 1, order, remove);
            processed.masked_fill_(removeByToken, negInf);
        }
        torch.softmax_out(probs, processed, -1);
        // torch.multinomial(probs, 1) without replacement draws exactly this way (checked against torch 2.13: the
        // same generator gives the same ids): one exponential per entry, then the argmax of p / q. Written out, it
        // skips multinomial's validity checks, which read the device twice per token; a softmax's rows are always
        // valid. On the CPU the fused op draws the same ids in 52 ms instead of 97 for [32, 151,936] (ATen makes
        // the exponentials on one thread), 21 ms when top-p leaves 1% of the vocabulary (MultinomialDraw).
        if (probs.is_cpu()) {
            MultinomialDraw.draw(probs, generator, next);
            return next;
        }
        noise.exponential_(1, new GeneratorOptional(generator));
        torch.div_out(noise, probs, noise);
        return torch.argmax_out(next, noise, new LongOptional(-1), true);
    }

    /** @return [N, 1] the log-probs of {@code chosen} under the raw logits of the last {@link #choose} */
    Tensor logprobs(Tensor chosen) {
        return logp.gather(1, chosen, false);
    }

    private void allocate(Tensor logits, boolean greedy, boolean topP) {
        scores = like(logits, ScalarType.Float);
        logp = like(logits, ScalarType.Float);
        next = like(logits.narrow(1, 0, 1), ScalarType.Long);
        if (!greedy) {
            probs = like(logits, ScalarType.Float);
            noise = logits.is_cpu() ? null : like(logits, ScalarType.Float);
        }
        if (!greedy && topP) {
            sorted = like(logits, ScalarType.Float);
            order = like(logits, ScalarType.Long);
            cumulative = like(logits, ScalarType.Float);
            remove = like(logits, ScalarType.Bool);
            removeByToken = like(logits, ScalarType.Bool);
        }
    }

    /** Same shape and device as {@code t}. */
    private static Tensor like(Tensor t, ScalarType dtype) {
        return torch.empty_like(t, new TensorOptions(dtype), new MemoryFormatOptional());
    }
}
